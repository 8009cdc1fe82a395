/* Host driver for the native oracle build: prints run(n) for argv[1]. */
#include <stdio.h>
#include <stdlib.h>

long run(long n);

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    printf("%ld\n", run(strtol(argv[1], NULL, 0)));
    return 0;
}
