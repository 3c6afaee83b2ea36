/* Host platform: the firmware as a native POSIX process.
 *   firmware [--serial stdio|tcp:PORT]
 * tcp:PORT listens on 127.0.0.1 and serves one client, so the harness uses the same
 * socket:// URL as for QEMU. TINYSHIP_FAULT=garbage|reset|silent with
 * TINYSHIP_FAULT_AFTER=N injects a fault after N commands (fault-handling tests only).
 * The app runs on a thread whose stack (STACK_SIZE, with a guard page below it) is painted
 * first, so `mem` reports a real high-water mark as on the boards. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE   /* MAP_ANONYMOUS */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "platform.h"

static int in_fd = 0, out_fd = 1;
static const char *fault;
static long fault_after = -1, commands;

int plat_getc(void)
{
    static int inject;
    unsigned char c;
    if (fault && commands >= fault_after && !strcmp(fault, "silent")) {
        while (read(in_fd, &c, 1) == 1) {
        }
        return -1;
    }
    if (inject) {
        inject = 0;
        if (!strcmp(fault, "garbage")) {
            static const char junk[] = "\x01\xfe garbage ~~~ m-notaline\r\n#$%&\r\n";
            plat_write(junk, sizeof junk - 1);
        } else if (!strcmp(fault, "reset")) {
            fault = NULL;   /* reset once */
            app_boot();
        }
    }
    if (read(in_fd, &c, 1) != 1) {
        return -1;
    }
    if (c == '%' && ++commands >= fault_after && fault) {
        inject = 1;
    }
    return c;
}

void plat_write(const char *s, size_t n)
{
    while (n > 0) {
        ssize_t k = write(out_fd, s, n);
        if (k <= 0) {
            exit(0);   /* the client went away */
        }
        s += k;
        n -= (size_t)k;
    }
}

uint64_t plat_cycles(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t plat_cycle_hz(void) { return 1000000000u; }
const char *plat_timer(void) { return "host"; }
int plat_emulated(void) { return 0; }

/* ---- stack high-water mark ------------------------------------------------------------- */

#define STACK_SIZE (8u << 20)   /* Linux's default main-thread stack */
#define STACK_PAINT 0xA5u

static unsigned char *stack_bottom;   /* lowest byte of the app thread's stack */

size_t plat_stack_size(void) { return STACK_SIZE; }

/* The stack grows down: the untouched paint is at the bottom. */
size_t plat_stack_used(void)
{
    const unsigned char *p = stack_bottom;
    while (p < stack_bottom + STACK_SIZE && *p == STACK_PAINT) {
        p++;
    }
    return (size_t)(stack_bottom + STACK_SIZE - p);
}

static void *run_app(void *rc)
{
    *(int *)rc = app_main();
    return NULL;
}

/** app_main() on a painted stack of STACK_SIZE bytes; the exit code, or 1 if no thread. */
static int app_main_on_painted_stack(void)
{
    long page = sysconf(_SC_PAGESIZE);
    unsigned char *map = mmap(NULL, STACK_SIZE + (size_t)page, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    pthread_attr_t attr;
    pthread_t thread;
    int rc = 1;
    if (map == MAP_FAILED || mprotect(map, (size_t)page, PROT_NONE)) {   /* overflow faults */
        fprintf(stderr, "firmware: cannot map a %u-byte stack\n", STACK_SIZE);
        return 1;
    }
    stack_bottom = map + page;
    memset(stack_bottom, STACK_PAINT, STACK_SIZE);
    if (pthread_attr_init(&attr) || pthread_attr_setstack(&attr, stack_bottom, STACK_SIZE) ||
        pthread_create(&thread, &attr, run_app, &rc) || pthread_join(thread, NULL)) {
        fprintf(stderr, "firmware: cannot start the app thread\n");
        return 1;
    }
    return rc;
}

static int serve_tcp(const char *port_text)
{
    int port = atoi(port_text);
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (port <= 0 || s < 0 || bind(s, (struct sockaddr *)&addr, sizeof addr) || listen(s, 1)) {
        fprintf(stderr, "firmware: cannot listen on 127.0.0.1:%s\n", port_text);
        return -1;
    }
    int c = accept(s, NULL, NULL);
    /* Replies go out in several small writes: without TCP_NODELAY each waits ~40 ms for
     * the harness's delayed ACK (measured: 45 ms per command, 1 ms with it). */
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    close(s);
    return c;
}

int main(int argc, char **argv)
{
    const char *serial = "stdio";
    signal(SIGPIPE, SIG_IGN);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--serial") && i + 1 < argc) {
            serial = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--serial stdio|tcp:PORT]\n", argv[0]);
            return 2;
        }
    }
    if (!strncmp(serial, "tcp:", 4)) {
        int fd = serve_tcp(serial + 4);
        if (fd < 0) {
            return 1;
        }
        in_fd = out_fd = fd;
    } else if (strcmp(serial, "stdio")) {
        fprintf(stderr, "firmware: --serial must be stdio or tcp:PORT\n");
        return 2;
    }
    fault = getenv("TINYSHIP_FAULT");
    if (fault) {
        const char *after = getenv("TINYSHIP_FAULT_AFTER");
        fault_after = after ? atol(after) : 0;
    }
    return app_main_on_painted_stack();
}
