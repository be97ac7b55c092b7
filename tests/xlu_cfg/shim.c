/*
 * xlu_shim: feeds documents to Xen's real xl.cfg parser (libxlutil's xlu_cfg_readdata) and prints
 * what it reached, for the differential test in tests/xlcfg_differential.rs.
 *
 * Usage: xlu_shim KEY...   (documents on stdin)
 * Input:  repeated "<decimal length>\n<length bytes>".
 * Output per document (strings are hex-encoded bytes, "-" for none):
 *   DOC
 *   RC <readdata rc>
 *   REPORT <hex of everything written to the report stream by readdata>
 *   and only when RC is 0, for every KEY:
 *   STR <key> <rc> <hex value|-> <hex warnings|->
 *   LIST <key> <rc> <count|-> <hex warnings|->
 *   ITEM <index> <hex item|-(not a string)>
 *   LONG <key> <rc> <value|-> <hex warnings|->
 *   END
 * Written for xenpci (GPL-3.0-only); links against libxlutil (LGPL-2.1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxlutil.h>

static void hex(const char *s, size_t n) {
    size_t i;
    if (!s) { fputs("-", stdout); return; }
    if (n == 0) { fputs("=", stdout); return; }
    for (i = 0; i < n; i++) printf("%02x", (unsigned char)s[i]);
}

/* Prints the report bytes written since *mark, then moves *mark. */
static void report_delta(FILE *rep, char **buf, size_t *len, size_t *mark) {
    fflush(rep);
    hex(*len > *mark ? *buf + *mark : "", *len - *mark);
    *mark = *len;
}

int main(int argc, char **argv) {
    for (;;) {
        long n;
        char *data, *rbuf = NULL;
        size_t rlen = 0, mark = 0;
        FILE *rep;
        XLU_Config *cfg;
        int rc, k;

        if (scanf("%ld", &n) != 1) break;
        if (getchar() != '\n' || n < 0) { fprintf(stderr, "xlu_shim: bad frame\n"); return 2; }
        data = malloc(n + 1);
        if (!data || fread(data, 1, n, stdin) != (size_t)n) { fprintf(stderr, "xlu_shim: short read\n"); return 2; }
        data[n] = 0;

        rep = open_memstream(&rbuf, &rlen);
        cfg = xlu_cfg_init(rep, "test.cfg");
        if (!cfg) { fprintf(stderr, "xlu_shim: xlu_cfg_init failed\n"); return 2; }
        rc = xlu_cfg_readdata(cfg, data, (int)n);
        printf("DOC\nRC %d\nREPORT ", rc);
        report_delta(rep, &rbuf, &rlen, &mark);
        putchar('\n');
        if (rc == 0) {
            for (k = 1; k < argc; k++) {
                const char *s = NULL;
                XLU_ConfigList *list = NULL;
                int count = 0, i, r;
                long l = 0;

                r = xlu_cfg_get_string(cfg, argv[k], &s, 0);
                printf("STR %s %d ", argv[k], r);
                if (r == 0) hex(s, strlen(s)); else fputs("-", stdout);
                putchar(' ');
                report_delta(rep, &rbuf, &rlen, &mark);
                putchar('\n');

                r = xlu_cfg_get_list(cfg, argv[k], &list, &count, 0);
                printf("LIST %s %d ", argv[k], r);
                if (r == 0) printf("%d", count); else fputs("-", stdout);
                putchar(' ');
                report_delta(rep, &rbuf, &rlen, &mark);
                putchar('\n');
                if (r == 0) {
                    for (i = 0; i < count; i++) {
                        const char *it = xlu_cfg_get_listitem(list, i);
                        printf("ITEM %d ", i);
                        if (it) hex(it, strlen(it)); else fputs("-", stdout);
                        putchar('\n');
                    }
                }

                r = xlu_cfg_get_long(cfg, argv[k], &l, 0);
                printf("LONG %s %d ", argv[k], r);
                if (r == 0) printf("%ld", l); else fputs("-", stdout);
                putchar(' ');
                report_delta(rep, &rbuf, &rlen, &mark);
                putchar('\n');
            }
        }
        puts("END");
        fflush(stdout);
        xlu_cfg_destroy(cfg);
        fclose(rep);
        free(rbuf);
        free(data);
    }
    return 0;
}
