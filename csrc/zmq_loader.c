/* zmq_loader.c: fill an sc_zmq table from the libzmq pyzmq loaded (see zmq_loader.h). */
#define _GNU_SOURCE /* dl_iterate_phdr */
#include "zmq_loader.h"

#include <string.h>

#include "sc_dlbind.h"

#if defined(_WIN32)
int sc_zmq_find_loaded(char *out, size_t cap)
{
    (void)out;
    (void)cap;
    return 0; /* not listed here: the binding then tries pyzmq's extension module itself */
}
#elif defined(__APPLE__)
#include <mach-o/dyld.h>
int sc_zmq_find_loaded(char *out, size_t cap)
{
    uint32_t n = _dyld_image_count();
    for (uint32_t i = 0; i < n; i++) {
        const char *name = _dyld_get_image_name(i);
        const char *base = name ? strrchr(name, '/') : NULL;
        if (base && strstr(base, "libzmq") && strlen(name) < cap) {
            strcpy(out, name);
            return 1;
        }
    }
    return 0;
}
#else
#include <link.h>

typedef struct {
    char *out;
    size_t cap;
    int found;
} sc_find;

static int sc_visit(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    sc_find *f = data;
    const char *name = info->dlpi_name;
    const char *base = name ? strrchr(name, '/') : NULL;
    if (base && strstr(base, "libzmq") && strlen(name) < f->cap) {
        strcpy(f->out, name);
        f->found = 1;
        return 1; /* stop */
    }
    return 0;
}

int sc_zmq_find_loaded(char *out, size_t cap)
{
    sc_find f = {out, cap, 0};
    dl_iterate_phdr(sc_visit, &f);
    return f.found;
}
#endif

int sc_zmq_load(sc_zmq *lib, const char *path, const char **missing)
{
    memset(lib, 0, sizeof *lib);
    void *h = sc_dlopen(path);
    if (!h) {
        *missing = "dlopen";
        return -1;
    }
    lib->handle = h;
    SC_BIND(version, "zmq_version");
    SC_BIND(errno_, "zmq_errno");
    SC_BIND(msg_init, "zmq_msg_init");
    SC_BIND(msg_init_size, "zmq_msg_init_size");
    SC_BIND(msg_close, "zmq_msg_close");
    SC_BIND(msg_move, "zmq_msg_move");
    SC_BIND(msg_data, "zmq_msg_data");
    SC_BIND(msg_size, "zmq_msg_size");
    SC_BIND(msg_more, "zmq_msg_more");
    SC_BIND(msg_recv, "zmq_msg_recv");
    SC_BIND(msg_send, "zmq_msg_send");
    SC_BIND(msg_gets, "zmq_msg_gets");
    SC_BIND(send, "zmq_send");
    return 0;
}
