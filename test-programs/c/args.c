/* Prints argc, every argv string and every environment string, in order,
 * then exits with the number of arguments (argc - 1): checks argv/envp
 * passing and exit-status propagation. */
#include <stdio.h>

extern char **environ;

int main(int argc, char **argv) {
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=%s\n", i, argv[i]);
    int n = 0;
    for (char **e = environ; *e; e++, n++)
        printf("env[%d]=%s\n", n, *e);
    printf("envc=%d\n", n);
    return (argc - 1) & 0xff;
}
