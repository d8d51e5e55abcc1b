/* lib (public header) */
