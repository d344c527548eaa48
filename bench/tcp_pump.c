/* Throughput probe for bench/network.sh, both directions:
 *   `tcp_pump sink PORT` drains every connection it accepts; `tcp_pump source HOST PORT MIB`
 *   sends MIB mebibytes, half-closes, and returns when the sink has closed (so the time
 *   covers delivery);
 *   `tcp_pump serve PORT MIB` sends MIB mebibytes to every connection it accepts (a download
 *   server); `tcp_pump fetch HOST PORT` reads until the server closes.
 * PUMP_CC=NAME sets the congestion control of every socket (TCP_CONGESTION).
 * Built static, so the same program runs on the host and in a busybox container. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char buf[1 << 20];

static void congestion_control(int s) {
    const char *cc = getenv("PUMP_CC");
    if (cc && setsockopt(s, IPPROTO_TCP, TCP_CONGESTION, cc, strlen(cc)) < 0) {
        perror("TCP_CONGESTION");
        exit(1);
    }
}

static int listener(int port) {
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    congestion_control(s);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 16) < 0) {
        perror("listen");
        exit(1);
    }
    return s;
}

static int connected(const char *host, int port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    congestion_control(s);
    inet_pton(AF_INET, host, &a.sin_addr);
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("connect");
        exit(1);
    }
    return s;
}

static int send_mib(int s, long mib) {
    memset(buf, 'x', sizeof buf);
    for (long i = 0; i < mib; i++) {
        size_t off = 0;
        while (off < sizeof buf) {
            ssize_t n = write(s, buf + off, sizeof buf - off);
            if (n <= 0) {
                perror("write");
                return 1;
            }
            off += n;
        }
    }
    return 0;
}

static void drain(int s) {
    while (read(s, buf, sizeof buf) > 0)
        ;
}

/* Accepts connections on PORT forever, one at a time, handing each to `serve_one`. */
static void accept_each(int port, void (*serve_one)(int, long), long arg) {
    int s = listener(port);
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0)
            continue;
        congestion_control(c);
        serve_one(c, arg);
        close(c);
    }
}

static void drain_one(int c, long unused) {
    (void)unused;
    drain(c);
}

static void send_one(int c, long mib) { send_mib(c, mib); }

static int source(const char *host, int port, long mib) {
    int s = connected(host, port);
    if (send_mib(s, mib))
        return 1;
    shutdown(s, SHUT_WR);
    drain(s);
    return 0;
}

static int fetch(const char *host, int port) {
    drain(connected(host, port));
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "sink"))
        accept_each(atoi(argv[2]), drain_one, 0);
    if (argc == 5 && !strcmp(argv[1], "source"))
        return source(argv[2], atoi(argv[3]), atol(argv[4]));
    if (argc == 4 && !strcmp(argv[1], "serve"))
        accept_each(atoi(argv[2]), send_one, atol(argv[3]));
    if (argc == 4 && !strcmp(argv[1], "fetch"))
        return fetch(argv[2], atoi(argv[3]));
    fprintf(stderr, "usage: tcp_pump sink PORT | source HOST PORT MIB | serve PORT MIB | fetch HOST PORT\n");
    return 2;
}
