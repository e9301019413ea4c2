/* A process that only sleeps: run it as "kubelet" with a real kubelet command line, so
 * podaudit's collectors read a real /proc/<pid>/cmdline, cwd, root and start time. */
#include <unistd.h>

int main(void) {
    for (;;) pause();
    return 0;
}
