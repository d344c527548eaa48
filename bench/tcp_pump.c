/* Throughput probe for bench/network.sh: `tcp_pump sink PORT` drains every connection
 * it accepts; `tcp_pump source HOST PORT MIB` sends MIB mebibytes, half-closes, and
 * returns when the sink has closed (so the time covers delivery). Built static, so
 * the same program runs on the host and in a busybox container. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char buf[1 << 20];

static int sink(int port) {
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 16) < 0) {
        perror("sink");
        return 1;
    }
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0)
            continue;
        while (read(c, buf, sizeof buf) > 0)
            ;
        close(c);
    }
}

static int source(const char *host, int port, long mib) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("source");
        return 1;
    }
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
    shutdown(s, SHUT_WR);
    while (read(s, buf, sizeof buf) > 0)
        ;
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "sink"))
        return sink(atoi(argv[2]));
    if (argc == 5 && !strcmp(argv[1], "source"))
        return source(argv[2], atoi(argv[3]), atol(argv[4]));
    fprintf(stderr, "usage: tcp_pump sink PORT | source HOST PORT MIB\n");
    return 2;
}
