/* Every command that writes a file leaves no output and no temporary file
 * when it fails, and leaves an older output as it was: run --output,
 * quantize -o, dequantize -o, import -o and calibrate -o. Each command
 * writes into a folder of its own, which must hold nothing afterwards but
 * what was there before. The run and calibrate cases fail after the first
 * batch went through: an embedding id out of range in a later batch, a
 * gzip CRC error at the end of the stream. */
#include <dirent.h>
#include <sys/stat.h>
#include <zlib.h>

#include "cli/cli_fixture.h"

/* A fresh empty folder under the test's temporary folder (caller frees). */
static char *of_dir(const char *name)
{
    char *dir = cf_tmp(name);
    ck_assert_msg(mkdir(dir, 0755) == 0, "mkdir %s", dir);
    return dir;
}

/* The names in dir other than "." and "..", comma-separated (static). */
static const char *of_listing(const char *dir)
{
    static char names[2048];
    names[0] = '\0';
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        size_t len = strlen(names);
        snprintf(names + len, sizeof names - len, "%s%s", len ? "," : "", e->d_name);
    }
    closedir(d);
    return names;
}

/* Runs quanta expecting exit `want_rc` and `reason` in the one-line
 * error. */
static void of_expect_failure(const char *args, int want_rc, const char *reason)
{
    char *out = NULL, *errout = NULL;
    int rc = ts_run_quanta(args, &out, &errout);
    ck_assert_msg(rc == want_rc, "'quanta %s' exited %d, not %d (stderr: %s)", args, rc, want_rc,
                  errout ? errout : "");
    ck_assert_msg(errout && strncmp(errout, "quanta: ", 8) == 0 && cf_lines(errout) == 1,
                  "stderr: %s", errout);
    ck_assert_msg(strstr(errout, reason) != NULL, "'quanta %s': the error is not '%s' but: %s",
                  args, reason, errout);
    free(out);
    free(errout);
}

/* The token-id model of cli_fixture.h (CF_EMB_GRAPH): an id outside
 * [0, 5) is an input error found when its batch runs. */
static void of_write_embedding_model(const char *path)
{
    static float table[5 * 4], fc_w[2 * 12];
    for (int i = 0; i < 20; i++)
        table[i] = (float)i * 0.05f;
    for (int i = 0; i < 24; i++)
        fc_w[i] = (float)(i % 3) - 1.0f;
    struct st_tensor_desc t[2] = {
        {"table", QUANTA_F32, {2, {5, 4}}, table},
        {"fc.w", QUANTA_F32, {2, {2, 12}}, fc_w},
    };
    struct st_meta meta[1] = {{"quanta.graph", CF_EMB_GRAPH}};
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_msg(st_write_file(path, t, 2, meta, 1, &err) == QUANTA_OK, "%s", err.message);
}

#define OF_IDS_N 8
#define OF_BAD_ID "sample 6 of 'ids' holds id 7, outside [0, 5) of node 'emb' (embedding)"

/* NPY int64 ids [OF_IDS_N, 3], all in range but `bad_id` put at sample
 * `bad_sample` (none when bad_sample < 0). */
static void of_write_ids(const char *path, int bad_sample, int64_t bad_id)
{
    char header[128]; /* magic, version, length, dict, spaces, newline */
    memset(header, ' ', sizeof header);
    memcpy(header, "\x93NUMPY\x01\x00", 8);
    header[8] = (char)(sizeof header - 10), header[9] = 0;
    char dict[100];
    int n = snprintf(dict, sizeof dict,
                     "{'descr': '<i8', 'fortran_order': False, 'shape': (%d, 3), }", OF_IDS_N);
    ck_assert(n > 0 && n < (int)sizeof header - 11);
    memcpy(header + 10, dict, (size_t)n);
    header[sizeof header - 1] = '\n';
    unsigned char buf[sizeof header + OF_IDS_N * 3 * 8];
    memcpy(buf, header, sizeof header);
    for (int i = 0; i < OF_IDS_N * 3; i++) {
        int64_t id = i / 3 == bad_sample && i % 3 == 1 ? bad_id : (i * 7) % 5;
        for (int b = 0; b < 8; b++) /* little-endian */
            buf[sizeof header + (size_t)i * 8 + (size_t)b] =
                (unsigned char)((uint64_t)id >> (8 * b));
    }
    ts_write_file(path, buf, sizeof buf);
}

/* 800,000 bytes: far more than zlib inflates ahead of the reader (the IDX
 * reader gives it a 128 KiB buffer; output is inflated up to twice that) */
#define OF_GZ_N 200000
#define OF_BAD_CRC "corrupt gzip data: incorrect data check"

/* Gzip IDX images [OF_GZ_N, 2, 2] for the tiny model whose CRC-32 in the
 * trailer is wrong (the length in it right): every sample decompresses,
 * and the mismatch shows only when the reader reaches the end of the
 * stream, in the last batch. */
static void of_write_images_bad_crc(const char *path)
{
    size_t n = 16 + (size_t)OF_GZ_N * CF_PIX;
    unsigned char *buf = malloc(n);
    ck_assert_ptr_nonnull(buf);
    cf_put_be32(buf, 0x00000803u);
    cf_put_be32(buf + 4, OF_GZ_N);
    cf_put_be32(buf + 8, 2);
    cf_put_be32(buf + 12, 2);
    for (int i = 0; i < OF_GZ_N; i++)
        for (int p = 0; p < CF_PIX; p++)
            buf[16 + (size_t)i * CF_PIX + (size_t)p] = cf_pixel(i, p);
    gzFile f = gzopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(gzwrite(f, buf, (unsigned)n), (int)n);
    ck_assert_int_eq(gzclose(f), Z_OK);
    free(buf);
    size_t len = 0;
    char *gz = ts_read_file(path, &len);
    ck_assert_ptr_nonnull(gz);
    ck_assert_uint_gt(len, 18);
    gz[len - 8] ^= 0x5a; /* first byte of the CRC-32 */
    ts_write_file(path, gz, len);
    free(gz);
}

struct of_fx {
    char *model, *images, *table;
};

static void of_fx_init(struct of_fx *f)
{
    struct cf_weights w;
    cf_default_weights(&w);
    f->model = cf_tmp("tiny.safetensors");
    f->images = cf_tmp("images.idx");
    f->table = cf_tmp("tiny.calib.json");
    cf_write_model(f->model, &w, true);
    cf_write_images(f->images);
    char *errout = NULL;
    int rc = ts_run_quanta(cf_args("calibrate %s --data %s -o %s", f->model, f->images, f->table),
                           NULL, &errout);
    ck_assert_msg(rc == 0, "calibrate exited %d: %s", rc, errout);
    free(errout);
}

static void of_fx_free(struct of_fx *f)
{
    free(f->model);
    free(f->images);
    free(f->table);
}

/* run --output: batches of 2 ids samples; the first three run (alone
 * they write an output), the fourth holds an id outside the table. */
START_TEST(test_run_output_after_first_batch)
{
    char *model = cf_tmp("emb.safetensors"), *bad = cf_tmp("ids-bad.npy");
    of_write_embedding_model(model);
    of_write_ids(bad, 6, 7);
    char *dir = of_dir("run");
    char out[1200];
    snprintf(out, sizeof out, "%s/logits.npy", dir);
    /* the first three batches alone run and write */
    char *errout = NULL;
    int rc = ts_run_quanta(
        cf_args("run %s --data %s --batch 2 --samples 6 --output %s", model, bad, out), NULL,
        &errout);
    ck_assert_msg(rc == 0, "run of the first 6 samples exited %d: %s", rc, errout);
    free(errout);
    ck_assert_int_eq(remove(out), 0);
    of_expect_failure(cf_args("run %s --data %s --batch 2 --output %s", model, bad, out), 3,
                      OF_BAD_ID);
    ck_assert_msg(!cf_file_exists(out), "%s exists after a failed run", out);
    ck_assert_str_eq(of_listing(dir), "");
    free(model);
    free(bad);
    free(dir);
}
END_TEST

/* run --output and calibrate -o: batches of 100 images of the tiny model,
 * a CRC error at the end of the gzip stream. */
START_TEST(test_gzip_error_in_last_batch)
{
    struct of_fx f;
    of_fx_init(&f);
    char *data = cf_tmp("bad-crc.idx.gz");
    of_write_images_bad_crc(data);
    char *dir = of_dir("gz");
    char out[1200], table[1200];
    snprintf(out, sizeof out, "%s/logits.npy", dir);
    snprintf(table, sizeof table, "%s/table.json", dir);
    /* the first batch alone runs and writes */
    char *errout = NULL;
    int rc = ts_run_quanta(
        cf_args("run %s --data %s --batch 100 --samples 100 --output %s", f.model, data, out),
        NULL, &errout);
    ck_assert_msg(rc == 0, "run of the first 100 samples exited %d: %s", rc, errout);
    free(errout);
    ck_assert_int_eq(remove(out), 0);
    of_expect_failure(cf_args("run %s --data %s --batch 100 --output %s", f.model, data, out), 3,
                      OF_BAD_CRC);
    ck_assert_str_eq(of_listing(dir), "");
    of_expect_failure(cf_args("calibrate %s --data %s --batch 100 -o %s", f.model, data, table),
                      3, OF_BAD_CRC);
    ck_assert_str_eq(of_listing(dir), "");
    free(data);
    free(dir);
    of_fx_free(&f);
}
END_TEST

/* run --output over an older file: it is left byte for byte. */
START_TEST(test_run_output_keeps_old_file)
{
    char *model = cf_tmp("emb.safetensors"), *bad = cf_tmp("ids-bad.npy");
    of_write_embedding_model(model);
    of_write_ids(bad, 6, 7);
    char *dir = of_dir("run-old");
    char out[1200];
    snprintf(out, sizeof out, "%s/logits.npy", dir);
    static const char old[] = "older output";
    ts_write_file(out, old, sizeof old - 1);
    of_expect_failure(cf_args("run %s --data %s --batch 2 --output %s", model, bad, out), 3,
                      OF_BAD_ID);
    size_t n = 0;
    char *now = ts_read_file(out, &n);
    ck_assert_ptr_nonnull(now);
    ck_assert_uint_eq(n, sizeof old - 1);
    ck_assert_mem_eq(now, old, n);
    ck_assert_str_eq(of_listing(dir), "logits.npy");
    free(now);
    free(model);
    free(bad);
    free(dir);
}
END_TEST

/* calibrate -o over an older table: left byte for byte (the failure is
 * in the last batch, see of_write_images_bad_crc). */
START_TEST(test_calibrate_keeps_old_file)
{
    struct of_fx f;
    of_fx_init(&f);
    char *data = cf_tmp("bad-crc.idx.gz");
    of_write_images_bad_crc(data);
    char *dir = of_dir("calib-old");
    char out[1200];
    snprintf(out, sizeof out, "%s/table.json", dir);
    static const char old[] = "{\"older\": \"table\"}";
    ts_write_file(out, old, sizeof old - 1);
    of_expect_failure(cf_args("calibrate %s --data %s --batch 100 -o %s", f.model, data, out), 3,
                      OF_BAD_CRC);
    size_t n = 0;
    char *now = ts_read_file(out, &n);
    ck_assert_ptr_nonnull(now);
    ck_assert_uint_eq(n, sizeof old - 1);
    ck_assert_mem_eq(now, old, n);
    ck_assert_str_eq(of_listing(dir), "table.json");
    free(now);
    free(data);
    free(dir);
    of_fx_free(&f);
}
END_TEST

/* quantize -o: a calibration table without the range of a later node
 * (the logits, which need one only as int8: --int8-outputs; by default
 * the int8 dense writes them as float from its accumulator). */
START_TEST(test_quantize_output_on_failure)
{
    struct of_fx f;
    of_fx_init(&f);
    char *text = ts_read_file(f.table, NULL);
    ck_assert_ptr_nonnull(text);
    cJSON *doc = cJSON_Parse(text);
    ck_assert_ptr_nonnull(doc);
    free(text);
    cJSON *ranges = cJSON_GetObjectItemCaseSensitive(doc, "values");
    ck_assert_msg(ranges != NULL, "calibration table without 'values'");
    cJSON_DeleteItemFromObjectCaseSensitive(ranges, "logits");
    char *bad = cf_tmp("no-logits.calib.json");
    char *printed = cJSON_Print(doc);
    ts_write_file(bad, printed, strlen(printed));
    free(printed);
    cJSON_Delete(doc);
    char *dir = of_dir("quantize");
    char out[1200];
    snprintf(out, sizeof out, "%s/int8.safetensors", dir);
    of_expect_failure(cf_args("quantize %s --calib %s -o %s --int8-outputs", f.model, bad, out),
                      3, "calibration has no range for value 'logits'");
    ck_assert_str_eq(of_listing(dir), "");
    /* without --int8-outputs that range is not needed */
    ck_assert_int_eq(ts_run_quanta(cf_args("quantize %s --calib %s -o %s", f.model, bad, out),
                                   NULL, NULL), 0);
    ck_assert_str_eq(of_listing(dir), "int8.safetensors");
    free(bad);
    free(dir);
    of_fx_free(&f);
}
END_TEST

/* dequantize -o: an int8 model cut short. */
START_TEST(test_dequantize_output_on_failure)
{
    struct of_fx f;
    of_fx_init(&f);
    char *q = cf_tmp("int8.safetensors");
    char *errout = NULL;
    int rc = ts_run_quanta(cf_args("quantize %s --calib %s -o %s", f.model, f.table, q), NULL,
                           &errout);
    ck_assert_msg(rc == 0, "quantize exited %d: %s", rc, errout);
    free(errout);
    size_t n = 0;
    char *bytes = ts_read_file(q, &n);
    ck_assert_ptr_nonnull(bytes);
    ck_assert_uint_gt(n, 16);
    char *cut = cf_tmp("int8-cut.safetensors");
    ts_write_file(cut, bytes, n - 5);
    free(bytes);
    char *dir = of_dir("dequantize");
    char out[1200];
    snprintf(out, sizeof out, "%s/float.safetensors", dir);
    of_expect_failure(cf_args("dequantize %s -o %s", cut, out), 3, "beyond the data buffer");
    ck_assert_str_eq(of_listing(dir), "");
    free(q);
    free(cut);
    free(dir);
    of_fx_free(&f);
}
END_TEST

/* import -o: an ONNX model with an operator quanta does not import. */
START_TEST(test_import_output_on_failure)
{
    char *dir = of_dir("import");
    char out[1200];
    snprintf(out, sizeof out, "%s/m.safetensors", dir);
    char *model = strdup(ts_src_path("tests/fixtures/onnx/bad-unsupported-op.onnx"));
    ck_assert_ptr_nonnull(model);
    of_expect_failure(cf_args("import %s -o %s", model, out), 3, "operator 'Det' is not supported");
    ck_assert_str_eq(of_listing(dir), "");
    free(model);
    free(dir);
}
END_TEST

Suite *suite_cli_output_on_failure(void);
Suite *suite_cli_output_on_failure(void)
{
    Suite *s = suite_create("cli_output_on_failure");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_run_output_after_first_batch);
    tcase_add_test(tc, test_run_output_keeps_old_file);
    tcase_add_test(tc, test_gzip_error_in_last_batch);
    tcase_add_test(tc, test_calibrate_keeps_old_file);
    tcase_add_test(tc, test_quantize_output_on_failure);
    tcase_add_test(tc, test_dequantize_output_on_failure);
    tcase_add_test(tc, test_import_output_on_failure);
    suite_add_tcase(s, tc);
    return s;
}
