# NAT traversal (issue 13): STUN messages against RFC 5769's vectors.
nepnet_test(test_stun)
# NAT behaviour discovery (RFC 5780) against the STUN server core through a model NAT of every
# mapping and filtering behaviour; the server's budgets and errors.
nepnet_test(test_natdisc)
