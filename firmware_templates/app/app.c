/* The profiling shell: parses `%`-terminated commands and answers per docs/protocol.md.
 * Portable C99: everything board-specific is behind platform.h, the model behind engine.h. */
#include "app.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "platform.h"
#include "tinyship_config.h"

#define CMD_MAX 1024       /* longest command accepted, in bytes */
#define MAX_TIMED 64       /* per-inference cycles kept for `cycles` */

static char cmd[CMD_MAX + 1];
static size_t cmd_len;
static int cmd_too_long;

/* The board this firmware was generated for, in a section that is not loaded (so no linker
 * script needs to keep it): `emulate` and `flash` read it back (toolchain.build.check_elf_board). */
#ifdef __ELF__
__asm__(".pushsection .tinyship.board,\"\",%progbits\n.asciz \"" TS_BOARD_ID "\"\n.popsection\n");
#endif

static uint8_t input_buf[TS_INPUT_BYTES];   /* the `db` buffer: inputs concatenated in order */
static size_t input_expected, input_len;
static uint64_t timed[MAX_TIMED];
static unsigned n_timed;
static int engine_ok, have_results;

/* ---- output ---------------------------------------------------------------------------- */

static void put(const char *s) { plat_write(s, strlen(s)); }

static void putf(const char *fmt, ...)
{
    char buf[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0) {
        plat_write(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    }
}

/* A number as printf's %.9g writes it (9 significant digits round-trip a float32), by integer
 * arithmetic: newlib's float conversion allocates from the heap, which small boards lack. */
static void put_number(double v)
{
    char out[24], digits[9];
    size_t n = 0;
    if (v != v) {
        put("nan");
        return;
    }
    if (v < 0) {
        out[n++] = '-';
        v = -v;
    }
    if (v > 1.7976931348623157e308) {
        out[n] = '\0';
        put(out);
        put("inf");
        return;
    }
    if (v == 0) {
        out[n++] = '0';
        plat_write(out, n);
        return;
    }
    int e = 0; /* v = m * 10^e with 10^8 <= m < 10^9 */
    while (v >= 1e9) {
        v /= 10;
        e++;
    }
    while (v < 1e8) {
        v *= 10;
        e--;
    }
    uint32_t m = (uint32_t)(v + 0.5);
    if (m >= 1000000000u) {
        m /= 10;
        e++;
    }
    for (int i = 8; i >= 0; i--, m /= 10) {
        digits[i] = (char)('0' + m % 10);
    }
    int last = 8; /* the last significant digit */
    while (last > 0 && digits[last] == '0') {
        last--;
    }
    const int x = e + 8; /* the decimal exponent of the first digit */
    if (x < -4 || x >= 9) {
        out[n++] = digits[0];
        if (last > 0) {
            out[n++] = '.';
            for (int i = 1; i <= last; i++) {
                out[n++] = digits[i];
            }
        }
        out[n++] = 'e';
        out[n++] = x < 0 ? '-' : '+';
        const int ax = x < 0 ? -x : x;
        if (ax >= 100) {
            out[n++] = (char)('0' + ax / 100);
        }
        out[n++] = (char)('0' + ax / 10 % 10);
        out[n++] = (char)('0' + ax % 10);
    } else if (x >= 0) {
        for (int i = 0; i <= x || i <= last; i++) {
            if (i == x + 1) {
                out[n++] = '.';
            }
            out[n++] = i <= 8 ? digits[i] : '0';
        }
    } else {
        out[n++] = '0';
        out[n++] = '.';
        for (int i = 0; i < -x - 1; i++) {
            out[n++] = '0';
        }
        for (int i = 0; i <= last; i++) {
            out[n++] = digits[i];
        }
    }
    plat_write(out, n);
}

static void line(const char *s)
{
    put(s);
    put("\r\n");
}

static void put_hex(const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char buf[64];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        buf[k++] = digits[p[i] >> 4];
        buf[k++] = digits[p[i] & 15];
        if (k == sizeof buf) {
            plat_write(buf, k);
            k = 0;
        }
    }
    plat_write(buf, k);
}

static void error(const char *msg)
{
    put("e-[");
    put(msg);
    line("]");
}

/** A JSON string; names come from the model, so quote and escape them. */
static void put_json_str(const char *s)
{
    put("\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            putf("\\%c", *s);
        } else if ((unsigned char)*s < 0x20) {
            putf("\\u%04x", (unsigned)(unsigned char)*s);
        } else {
            plat_write(s, 1);
        }
    }
    put("\"");
}

/* ---- inference --------------------------------------------------------------------------- */

/** Copy the `db` buffer into the input tensors (outside any timed region). */
static void load_inputs(void)
{
    size_t off = 0;
    for (int i = 0; i < engine_num_inputs(); i++) {
        const ts_tensor_t *t = engine_input(i);
        memcpy(t->data, input_buf + off, t->bytes);
        off += t->bytes;
    }
}

static int run_once(uint64_t *cycles)
{
    load_inputs();
    uint64_t c0 = plat_cycles();
    int rc = engine_invoke();
    *cycles = plat_cycles() - c0;
    have_results = rc == 0;
    return rc;
}

static uint64_t to_us(uint64_t cycles) { return cycles * 1000000u / plat_cycle_hz(); }

static double element(const ts_tensor_t *t, size_t i)
{
    const char *d = t->dtype;
    double q;
    if (!strcmp(d, "float32")) {
        return ((const float *)t->data)[i];
    } else if (!strcmp(d, "int8")) {
        q = ((const int8_t *)t->data)[i];
    } else if (!strcmp(d, "uint8")) {
        q = ((const uint8_t *)t->data)[i];
    } else if (!strcmp(d, "int16")) {
        q = ((const int16_t *)t->data)[i];
    } else if (!strcmp(d, "int32")) {
        q = ((const int32_t *)t->data)[i];
    } else {
        return 0.0;
    }
    return t->scale != 0.0f ? (q - t->zero_point) * t->scale : q;
}

static size_t itemsize(const char *dtype)
{
    if (!strcmp(dtype, "float32") || !strcmp(dtype, "int32")) {
        return 4;
    }
    return !strcmp(dtype, "int16") ? 2 : 1;
}

static void cmd_results(void)
{
    if (!have_results) {
        error("no results: run infer first");
        return;
    }
    put("m-results-[");
    const char *sep = "";
    for (int o = 0; o < engine_num_outputs(); o++) {
        const ts_tensor_t *t = engine_output(o);
        for (size_t i = 0; i < t->bytes / itemsize(t->dtype); i++) {
            put(sep);
            put_number(element(t, i));
            sep = ",";
        }
    }
    line("]");
}

static void cmd_outputs(void)
{
    if (!have_results) {
        error("no outputs: run infer first");
        return;
    }
    put("m-outputs-");
    for (int o = 0; o < engine_num_outputs(); o++) {
        const ts_tensor_t *t = engine_output(o);
        put_hex((const uint8_t *)t->data, t->bytes);
    }
    put("\r\n");
}

static int parse_uint(const char *s, unsigned long *v)
{
    char *end;
    if (!s || !*s || *s == '-') {
        return -1;
    }
    *v = strtoul(s, &end, 10);
    return *end ? -1 : 0;
}

static void cmd_infer(const char *n_arg, const char *w_arg)
{
    unsigned long n, w;
    uint64_t cycles;
    if (parse_uint(n_arg, &n) || n < 1 || parse_uint(w_arg ? w_arg : "0", &w)) {
        error("usage: infer N W (N >= 1, W >= 0)");
        return;
    }
    if (input_len != input_expected) {
        error("no complete input: db load N, then db data until m-load-done");
        return;
    }
    putf("m-warmup-start-%lu\r\n", w);
    for (unsigned long i = 0; i < w; i++) {
        if (run_once(&cycles)) {
            error("inference failed");
            return;
        }
    }
    line("m-warmup-done");
    putf("m-infer-start-%lu\r\n", n);
    n_timed = 0;
    uint64_t t0 = plat_cycles();
    for (unsigned long i = 0; i < n; i++) {
        if (run_once(&cycles)) {
            error("inference failed");
            return;
        }
        if (n_timed < MAX_TIMED) {
            timed[n_timed++] = cycles;
        }
    }
    uint64_t t1 = plat_cycles();
    putf("m-lap-us-%llu\r\n", (unsigned long long)to_us(t0));
    putf("m-lap-us-%llu\r\n", (unsigned long long)to_us(t1));
    line("m-infer-done");
    cmd_results();
}

static void cmd_cycles(void)
{
    put("m-cycles-[");
    for (unsigned i = 0; i < n_timed; i++) {
        putf("%s%llu", i ? "," : "", (unsigned long long)timed[i]);
    }
    line("]");
}

static void cmd_layers(void)
{
    put("m-layers-[");
    for (int i = 0; i < engine_num_layers(); i++) {
        putf("%s{\"i\":%d,\"name\":", i ? "," : "", i);
        put_json_str(engine_layer_name(i));
        putf(",\"cycles\":%llu}", (unsigned long long)(have_results ? engine_layer_cycles(i) : 0));
    }
    line("]");
}

static void put_tensors(int n, const ts_tensor_t *(*get)(int))
{
    put("[");
    for (int i = 0; i < n; i++) {
        const ts_tensor_t *t = get(i);
        put(i ? ",{\"shape\":[" : "{\"shape\":[");
        for (int d = 0; d < t->ndims; d++) {
            putf("%s%ld", d ? "," : "", (long)t->dims[d]);
        }
        putf("],\"dtype\":\"%s\",\"scale\":", t->dtype);
        put_number(t->scale);
        putf(",\"zero_point\":%ld,\"bytes\":%lu}", (long)t->zero_point, (unsigned long)t->bytes);
    }
    put("]");
}

static void cmd_info(void)
{
    putf("m-info-{\"board\":\"%s\",\"engine\":\"%s\",\"model\":", TS_BOARD_ID, TS_ENGINE);
    put_json_str(TS_MODEL_NAME);
    putf(",\"model_crc32\":%lu,\"cpu_hz\":%llu,\"timer\":\"%s\",\"emulated\":%s,\"inputs\":",
         (unsigned long)TS_MODEL_CRC32, (unsigned long long)plat_cycle_hz(), plat_timer(),
         plat_emulated() ? "true" : "false");
    put_tensors(engine_num_inputs(), engine_input);
    put(",\"outputs\":");
    put_tensors(engine_num_outputs(), engine_output);
    putf(",\"arena_size\":%lu,\"arena_used\":%lu,\"layers\":%d}\r\n", (unsigned long)engine_arena_size(),
         (unsigned long)engine_arena_used(), engine_num_layers());
}

static void cmd_mem(void)
{
    putf("m-mem-{\"arena_size\":%lu,\"arena_used\":%lu,\"stack_size\":%lu,\"stack_used\":%lu}\r\n",
         (unsigned long)engine_arena_size(), (unsigned long)engine_arena_used(),
         (unsigned long)plat_stack_size(), (unsigned long)plat_stack_used());
}

static void emit_dump(int layer, const uint8_t *data, size_t bytes)
{
    putf("m-dump-%d-", layer);
    put_hex(data, bytes);
    put("\r\n");
}

static void cmd_dump(const char *arg)
{
    unsigned long layer;
    if (parse_uint(arg, &layer)) {
        error("usage: dump LAYER");
        return;
    }
    load_inputs();
    switch (engine_dump((int)layer, emit_dump)) {
    case 0: have_results = 1; break;
    case -1: error("dump needs the aot engine"); break;
    case -2: error("no such layer"); break;
    default: have_results = 0; error("inference failed"); break;
    }
}

/* ---- the db buffer ----------------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/** A rejected `db` command discards the input: the next `infer` is an error, never stale data. */
static void db_reject(const char *msg)
{
    input_expected = TS_INPUT_BYTES;
    input_len = 0;
    putf("e-[%s; input discarded: db load %u again]\r\n", msg, (unsigned)TS_INPUT_BYTES);
}

static void cmd_db(char *arg1, char *arg2, char *arg3)
{
    unsigned long n, off = 0, count;
    if (!arg1) {
        error("usage: db load N | db HEX | db print [OFFSET [COUNT]]");
    } else if (!strcmp(arg1, "load")) {
        if (parse_uint(arg2, &n) || n != TS_INPUT_BYTES) {
            db_reject("db load expects the input size");
            return;
        }
        input_expected = n;
        input_len = 0;
        putf("m-[Expecting %lu bytes]\r\n", n);
    } else if (!strcmp(arg1, "print")) {
        count = input_len;
        if ((arg2 && parse_uint(arg2, &off)) || off > input_len ||
            (arg3 && parse_uint(arg3, &count))) {
            error("usage: db print [OFFSET [COUNT]] within the loaded bytes");
            return;
        }
        if (count > input_len - off) {
            count = input_len - off;
        }
        put("m-buffer-");
        put_hex(input_buf + off, count);
        put("\r\n");
    } else {
        size_t len = strlen(arg1);
        if (len % 2 || arg2) {
            db_reject("db data must be hex pairs");
            return;
        }
        if (input_len + len / 2 > input_expected) {
            db_reject("more bytes than db load announced");
            return;
        }
        for (size_t i = 0; i < len; i += 2) {
            if (hexval(arg1[i]) < 0 || hexval(arg1[i + 1]) < 0) {
                db_reject("db data must be hex pairs");
                return;
            }
        }
        for (size_t i = 0; i < len; i += 2) {
            input_buf[input_len++] = (uint8_t)(hexval(arg1[i]) << 4 | hexval(arg1[i + 1]));
        }
        if (input_len == input_expected) {
            line("m-load-done");
        }
    }
}

/* ---- dispatch ---------------------------------------------------------------------------- */

static void dispatch(char *c)
{
    char *argv[4] = {0};
    int argc = 0;
    for (char *tok = strtok(c, " \t"); tok && argc < 4; tok = strtok(NULL, " \t")) {
        argv[argc++] = tok;
    }
    if (!argc) {
        return;
    }
    if (!strcmp(argv[0], "name")) {
        line("m-name-dut-[tinyship-" TS_BOARD_ID "]");   /* as the MLPerf Tiny reference firmware */
    } else if (!strcmp(argv[0], "profile")) {
        line("m-profile-[tinyship]");
        line("m-model-[" TS_MLPERF_NAME "]");   /* the runner picks its test script by it */
    } else if (!strcmp(argv[0], "db")) {
        cmd_db(argv[1], argv[2], argv[3]);
    } else if (!engine_ok && (!strcmp(argv[0], "infer") || !strcmp(argv[0], "dump"))) {
        putf("e-[engine init failed: %s]\r\n", engine_error());
    } else if (!strcmp(argv[0], "infer")) {
        cmd_infer(argv[1], argv[2]);
    } else if (!strcmp(argv[0], "results")) {
        cmd_results();
    } else if (!strcmp(argv[0], "outputs")) {
        cmd_outputs();
    } else if (!strcmp(argv[0], "info")) {
        cmd_info();
    } else if (!strcmp(argv[0], "layers")) {
        cmd_layers();
    } else if (!strcmp(argv[0], "mem")) {
        cmd_mem();
    } else if (!strcmp(argv[0], "cycles")) {
        cmd_cycles();
    } else if (!strcmp(argv[0], "dump")) {
        cmd_dump(argv[1]);
    } else {
        error("unknown command");
    }
}

void app_boot(void)
{
    cmd_len = 0;
    cmd_too_long = 0;
    input_expected = TS_INPUT_BYTES;   /* a zero input is loaded until the host sends one */
    input_len = TS_INPUT_BYTES;
    memset(input_buf, 0, sizeof input_buf);
    n_timed = 0;
    have_results = 0;
    engine_ok = engine_init() == 0;
    putf("m-boot-[tinyship board=%s engine=%s model=%s crc32=0x%08lx]\r\n", TS_BOARD_ID, TS_ENGINE,
         TS_MODEL_NAME, (unsigned long)TS_MODEL_CRC32);
    if (!engine_ok) {
        putf("e-[engine init failed: %s]\r\n", engine_error());
    }
    /* no m-ready: a runner that opens the port before the board boots (and never flushes) must
     * not take the boot lines for a complete reply to its first command */
}

void app_feed(int c)
{
    if (c == '%') {
        if (cmd_too_long) {
            error("command too long");
        } else {
            cmd[cmd_len] = '\0';
            dispatch(cmd);
        }
        line("m-ready");
        cmd_len = 0;
        cmd_too_long = 0;
    } else if (c < 0x20 || c > 0x7e) {
        return;   /* CR, LF and any non-printable byte */
    } else if (cmd_len < CMD_MAX) {
        cmd[cmd_len++] = (char)c;
    } else {
        cmd_too_long = 1;
    }
}

int app_main(void)
{
    app_boot();
    for (int c; (c = plat_getc()) >= 0;) {
        app_feed(c);
    }
    return 0;
}
