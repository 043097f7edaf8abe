/* One error space for the whole agent. Functions return 0 or a negative
 * TL_E* code; tl_strerror() gives the words a user reads. The map is one
 * table (libuv's UV_ERRNO_MAP pattern), so a code means the same thing in
 * every module and a new code cannot be added without its message. Detail
 * (which file, which field) goes in the caller's err buffer, not the code. */
#ifndef TRIPLINE_ERR_H
#define TRIPLINE_ERR_H

#define TL_ERRNO_MAP(XX)                                                      \
    XX(NOMEM, "out of memory")                                                \
    XX(INVAL, "invalid argument or configuration")                            \
    XX(TOOBIG, "too large")                                                   \
    XX(IO, "input/output error")                                              \
    XX(BUSY, "resource busy")                                                 \
    XX(RAND, "the random number generator failed")                            \
    XX(ADDR, "the address does not parse")                                    \
    XX(START, "the server would not start (address in use or not permitted)") \
    XX(LOOP, "an event loop call failed")                                     \
    XX(KEY, "the key file cannot be read or is empty")                        \
    XX(STATE, "not allowed in the current state")                             \
    XX(SYNTAX, "syntax error")                                                \
    XX(EXISTS, "already exists")                                              \
    XX(NOTFOUND, "not found")

enum tl_err {
    TL_OK = 0,
    TL_ERR_FIRST_ = -1000, /* codes start at -999, far from -1 and errno values */
#define TL_ERR_ENUM_(name, msg) TL_E##name,
    TL_ERRNO_MAP(TL_ERR_ENUM_)
#undef TL_ERR_ENUM_
};

/* The message for a TL_E* code ("unknown error" for anything else, including
 * a positive value); never NULL. */
const char *tl_strerror(int code);
/* The code's name without the prefix ("NOMEM"), or "UNKNOWN". */
const char *tl_err_name(int code);

#endif
