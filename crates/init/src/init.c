/* strata's container init: `docker-init -- COMMAND [ARG...]`. PID 1 of the container
 * starts COMMAND as its child in a process group of its own (the terminal's foreground
 * one, with a terminal), forwards every signal it receives to that group, reaps every
 * zombie, and exits with COMMAND's status (128 + the signal that killed it). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int first = 1;
    if (first < argc && strcmp(argv[first], "--") == 0)
        first++;
    if (first >= argc) {
        fprintf(stderr, "docker-init: no command to run: docker-init -- COMMAND [ARG...]\n");
        return 125;
    }
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);

    pid_t child = fork();
    if (child < 0) {
        perror("docker-init: fork");
        return 125;
    }
    if (child == 0) {
        setpgid(0, 0);
        if (isatty(STDIN_FILENO)) {
            signal(SIGTTOU, SIG_IGN);
            tcsetpgrp(STDIN_FILENO, getpgrp());
            signal(SIGTTOU, SIG_DFL);
        }
        sigprocmask(SIG_SETMASK, &old, NULL);
        execvp(argv[first], argv + first);
        fprintf(stderr, "docker-init: exec %s: %s\n", argv[first], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }
    setpgid(child, child);

    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&all, &info);
        if (sig < 0)
            continue;
        if (sig != SIGCHLD) {
            /* To the child's group: what a terminal would have reached. */
            if (kill(-child, sig) < 0)
                kill(child, sig);
            continue;
        }
        for (;;) {
            int status;
            pid_t done = waitpid(-1, &status, WNOHANG);
            if (done <= 0)
                break;
            if (done == child) {
                if (WIFEXITED(status))
                    return WEXITSTATUS(status);
                if (WIFSIGNALED(status))
                    return 128 + WTERMSIG(status);
            }
        }
    }
}
