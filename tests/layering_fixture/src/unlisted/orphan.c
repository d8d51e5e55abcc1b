/* VIOLATION: src/unlisted is no layer */
