/* printf and strtod of double and long double (x87 80-bit) values, plus a
 * few libm results: exercises SSE2, x87 and glibc's exact decimal
 * conversion. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    volatile double d[] = {0.1, 1.0 / 3.0, 2.5e-308, 1e308, -0.0, 123456789.125, DBL_MIN / 4};
    for (unsigned i = 0; i < sizeof d / sizeof d[0]; i++)
        printf("%.17g %e %a %f\n", d[i], d[i], d[i], d[i]);
    volatile long double l[] = {0.1L, 1.0L / 3.0L, LDBL_MAX, LDBL_MIN, 1e-4950L, -12345.6789L};
    for (unsigned i = 0; i < sizeof l / sizeof l[0]; i++)
        printf("%.21Lg %Le %La\n", l[i], l[i], l[i]);
    printf("%.40Lf\n", (long double)1 / 7);
    printf("inf %f nan %f -inf %Lf\n", (double)INFINITY, (double)NAN, -(long double)INFINITY);
    printf("strtod %.17g strtold %.21Lg\n", strtod("2.2250738585072011e-308", NULL),
           strtold("1.18973149535723176502e+4932", NULL));
    volatile double x = 2.0;
    printf("sqrt %.17g exp %.17g log %.17g sin %.17g pow %.17g\n", sqrt(x), exp(x), log(x),
           sin(x), pow(x, 0.5));
    volatile long double y = 2.0L;
    printf("sqrtl %.21Lg\n", sqrtl(y));
    double sum = 0;
    for (int i = 1; i <= 100000; i++) sum += 1.0 / ((double)i * i);
    printf("basel %.17g\n", sum);
    return 0;
}
