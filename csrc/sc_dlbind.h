/* sc_dlbind.h: filling a table of function pointers from a shared object at run time
 * (sodium_loader.c, zmq_loader.c).  Private to csrc/. */
#ifndef SC_DLBIND_H
#define SC_DLBIND_H

#include <string.h>

#ifdef _WIN32
#include <windows.h>
static void *sc_dlopen(const char *path) { return (void *)LoadLibraryA(path); }
static void *sc_dlsym(void *h, const char *name) { return (void *)GetProcAddress((HMODULE)h, name); }
#else
#include <dlfcn.h>
/* RTLD_LOCAL: never leak these symbols into the global namespace.  For a library Python
 * already loaded (PyNaCl's module, pyzmq's libzmq) this only takes another reference. */
static void *sc_dlopen(const char *path) { return dlopen(path, RTLD_NOW | RTLD_LOCAL); }
static void *sc_dlsym(void *h, const char *name) { return dlsym(h, name); }
#endif

/* lib->field = symbol `name` of handle h, or return -1 with *missing = name.  Object
 * pointer -> function pointer by memcpy, the conversion POSIX dlsym requires. */
#define SC_BIND(field, name)                                   \
    do {                                                       \
        void *sym_ = sc_dlsym(h, name);                        \
        if (!sym_) {                                           \
            *missing = name;                                   \
            return -1;                                         \
        }                                                      \
        memcpy(&lib->field, &sym_, sizeof sym_);               \
    } while (0)

#endif /* SC_DLBIND_H */
