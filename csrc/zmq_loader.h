/* zmq_loader.h: the libzmq that pyzmq already loaded, bound at run time.
 *
 * Why not link libzmq: the relay engine (relay.c) must drive the very sockets pyzmq
 * created, so it has to call into the same copy of libzmq, with its own context and I/O
 * threads.  pyzmq's wheels carry a private libzmq (pyzmq.libs/libzmq-<hash>.so on Linux,
 * zmq/.dylibs on macOS) that no header or linker flag can name.  Finding that loaded file
 * and taking its symbols with dlsym needs nothing installed to build or run, and cannot
 * pick a second libzmq by mistake.  Only the stable libzmq 4.x message API is used.
 */
#ifndef SC_ZMQ_LOADER_H
#define SC_ZMQ_LOADER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* zmq_msg_t as zmq.h declares it in libzmq 4.x: 64 opaque bytes, pointer aligned. */
typedef struct sc_zmq_msg {
    _Alignas(void *) unsigned char opaque[64];
} sc_zmq_msg;

#define SC_ZMQ_DONTWAIT 1
#define SC_ZMQ_SNDMORE 2

typedef struct sc_zmq {
    void (*version)(int *major, int *minor, int *patch);
    int (*errno_)(void);
    int (*msg_init)(sc_zmq_msg *msg);
    int (*msg_init_size)(sc_zmq_msg *msg, size_t size);
    int (*msg_close)(sc_zmq_msg *msg);
    int (*msg_move)(sc_zmq_msg *dest, sc_zmq_msg *src);
    void *(*msg_data)(sc_zmq_msg *msg);
    size_t (*msg_size)(const sc_zmq_msg *msg);
    int (*msg_more)(const sc_zmq_msg *msg);
    int (*msg_recv)(sc_zmq_msg *msg, void *socket, int flags);
    int (*msg_send)(sc_zmq_msg *msg, void *socket, int flags);
    const char *(*msg_gets)(const sc_zmq_msg *msg, const char *property);
    int (*send)(void *socket, const void *buf, size_t len, int flags);
    void *handle;
} sc_zmq;

/* Path of the loaded shared object whose file name contains "libzmq", copied into out;
 * 0 if there is none (or this platform cannot list loaded objects), else 1. */
int sc_zmq_find_loaded(char *out, size_t cap);

/* Bind libzmq from `path` (dlopen'ed without loading anything new if it is loaded).
 * Returns 0, or -1 with *missing naming the first absent symbol (or "dlopen"). */
int sc_zmq_load(sc_zmq *lib, const char *path, const char **missing);

#ifdef __cplusplus
}
#endif
#endif /* SC_ZMQ_LOADER_H */
