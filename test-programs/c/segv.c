/* Prints a line, then writes through a null pointer: killed by SIGSEGV
 * (signal 11), so `lockstep run` must exit with 139 and report it. */
#include <stdio.h>

int main(void) {
    printf("about to fault\n");
    fflush(stdout);
    *(volatile int *)0 = 1;
    return 0;
}
