/* File I/O in /tmp: create, write, seek, read back, stat, append, rename,
 * unlink; prints what it observes (never a host-specific name or time). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(const char *what) {
    printf("FAIL %s: errno %d\n", what, errno);
    return 1;
}

int main(void) {
    char path[64], renamed[80];
    /* The pid keeps concurrent native runs apart; it is never printed. */
    snprintf(path, sizeof path, "/tmp/lockstep-fileio-%d", (int)getpid());
    snprintf(renamed, sizeof renamed, "%s.renamed", path);

    int fd = open(path, O_CREAT | O_EXCL | O_RDWR, 0640);
    if (fd < 0) return fail("open");
    const char text[] = "line one\nline two\n";
    ssize_t n = write(fd, text, sizeof text - 1);
    printf("wrote %zd bytes\n", n);
    if (lseek(fd, 5, SEEK_SET) != 5) return fail("lseek");
    char buf[64] = {0};
    n = read(fd, buf, sizeof buf - 1);
    printf("read %zd bytes from offset 5: [%s]\n", n, buf);
    struct stat st;
    if (fstat(fd, &st) != 0) return fail("fstat");
    printf("size %lld, regular %d, mode %o\n", (long long)st.st_size, S_ISREG(st.st_mode),
           (unsigned)(st.st_mode & 0777));
    close(fd);

    FILE *f = fopen(path, "a");
    if (!f) return fail("fopen append");
    for (int i = 0; i < 1000; i++) fprintf(f, "%04d\n", i);
    fclose(f);
    if (rename(path, renamed) != 0) return fail("rename");
    f = fopen(renamed, "r");
    if (!f) return fail("fopen read");
    unsigned long sum = 0, lines = 0;
    int c;
    while ((c = fgetc(f)) != EOF) {
        sum = sum * 31 + (unsigned char)c;
        lines += c == '\n';
    }
    fclose(f);
    printf("after append: %lu lines, hash %lu\n", lines, sum);
    printf("old name exists: %d\n", access(path, F_OK) == 0);
    if (unlink(renamed) != 0) return fail("unlink");
    errno = 0;
    int gone = open(renamed, O_RDONLY);
    printf("open after unlink: %d, errno %s\n", gone, errno == ENOENT ? "ENOENT" : strerror(errno));
    return 0;
}
