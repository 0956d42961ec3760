/* Output files that never exist half-written: bytes go to a temporary file
 * "<dir>/.<base>.tmp-XXXXXX" in the target folder, which is fsynced and
 * renamed over the target on commit, then the folder is fsynced.
 *
 * Open temporaries are also listed in a small fixed registry that a
 * SIGINT/SIGTERM handler can walk without allocating or locking: static
 * arrays and sig_atomic_t flags only, so the handler stays async-signal-safe.
 * When the registry is full, files still work; they are just not cleaned up
 * on a signal. */
#include "quanta/safe_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEMP_REGISTRY_SLOTS 16

static char temp_paths[TEMP_REGISTRY_SLOTS][PATH_MAX];
static volatile sig_atomic_t temp_used[TEMP_REGISTRY_SLOTS];
static pthread_mutex_t temp_lock = PTHREAD_MUTEX_INITIALIZER;

static void temp_register(const char *path)
{
    if (strlen(path) >= PATH_MAX)
        return;
    pthread_mutex_lock(&temp_lock);
    for (int i = 0; i < TEMP_REGISTRY_SLOTS; i++) {
        if (!temp_used[i]) {
            strcpy(temp_paths[i], path);
            /* the handler must see the whole path before the flag */
            atomic_signal_fence(memory_order_seq_cst);
            temp_used[i] = 1;
            break;
        }
    }
    pthread_mutex_unlock(&temp_lock);
}

static void temp_unregister(const char *path)
{
    pthread_mutex_lock(&temp_lock);
    for (int i = 0; i < TEMP_REGISTRY_SLOTS; i++) {
        if (temp_used[i] && strcmp(temp_paths[i], path) == 0) {
            temp_used[i] = 0;
            break;
        }
    }
    pthread_mutex_unlock(&temp_lock);
}

static void cleanup_handler(int sig)
{
    int saved = errno;
    for (int i = 0; i < TEMP_REGISTRY_SLOTS; i++)
        if (temp_used[i])
            unlink(temp_paths[i]);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    errno = saved;
    raise(sig); /* delivered with the default action once we return */
}

void safe_file_install_signal_cleanup(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = cleanup_handler;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* The process umask, read without changing it where /proc allows (umask()
 * itself can only be read by setting it, which races with other threads). */
static mode_t current_umask(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f)) {
            unsigned mask;
            if (sscanf(line, "Umask: %o", &mask) == 1) {
                fclose(f);
                return (mode_t)mask;
            }
        }
        fclose(f);
    }
    mode_t mask = umask(022);
    umask(mask);
    return mask;
}

enum quanta_status safe_file_open(struct safe_file *file, const char *path, struct quanta_error *err)
{
    memset(file, 0, sizeof *file);
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (*base == '\0')
        return quanta_fail(err, QUANTA_ERR_OUTPUT, "%s: not a file name", path);
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0; /* keeps the '/' */
    size_t size = dir_len + 1 + strlen(base) + sizeof ".tmp-XXXXXX";
    file->path = strdup(path);
    file->tmp_path = malloc(size);
    if (!file->path || !file->tmp_path) {
        free(file->path);
        free(file->tmp_path);
        memset(file, 0, sizeof *file);
        return quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(file->tmp_path, path, dir_len);
    snprintf(file->tmp_path + dir_len, size - dir_len, ".%s.tmp-XXXXXX", base);

    /* rename() would replace a device, fifo or folder with a regular file */
    struct stat target;
    if (stat(path, &target) == 0 && !S_ISREG(target.st_mode)) {
        free(file->path);
        free(file->tmp_path);
        memset(file, 0, sizeof *file);
        return quanta_fail(err, QUANTA_ERR_OUTPUT, "%s: not a regular file; refusing to replace it",
                           path);
    }

    /* No SIGINT/SIGTERM between creating the temporary and registering it:
     * the handler could not know to remove it. */
    sigset_t block, saved;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &saved);
    int fd = mkostemp(file->tmp_path, O_CLOEXEC);
    if (fd >= 0)
        temp_register(file->tmp_path);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (fd < 0) {
        int e = errno;
        free(file->path);
        free(file->tmp_path);
        memset(file, 0, sizeof *file);
        if (dir_len)
            return quanta_fail(err, QUANTA_ERR_OUTPUT, "%s: cannot create a file in '%.*s': %s",
                               path, (int)(dir_len > 1 ? dir_len - 1 : 1), path, strerror(e));
        return quanta_fail(err, QUANTA_ERR_OUTPUT, "%s: cannot create a file in '.': %s", path,
                           strerror(e));
    }
    /* mkstemp makes 0600; give the mode fopen would: 0666 less the umask */
    if (fchmod(fd, 0666 & ~current_umask()) != 0 || !(file->fp = fdopen(fd, "wb"))) {
        int e = errno;
        close(fd);
        unlink(file->tmp_path);
        temp_unregister(file->tmp_path);
        free(file->path);
        free(file->tmp_path);
        memset(file, 0, sizeof *file);
        return quanta_fail(err, QUANTA_ERR_OUTPUT, "%s: cannot set up the file: %s", path,
                           strerror(e));
    }
    return QUANTA_OK;
}

enum quanta_status safe_file_write(struct safe_file *file, const void *bytes, size_t size,
                                   struct quanta_error *err)
{
    if (size == 0)
        return QUANTA_OK;
    if (!file->fp)
        return quanta_fail(err, QUANTA_ERR_INTERNAL, "%s: write to a closed file",
                           file->path ? file->path : "(null)");
    errno = 0;
    if (fwrite(bytes, 1, size, file->fp) != size)
        return quanta_fail(err, QUANTA_ERR_OUTPUT, "%s: cannot write: %s", file->path,
                           strerror(errno ? errno : EIO));
    return QUANTA_OK;
}

static void release(struct safe_file *file)
{
    free(file->path);
    free(file->tmp_path);
    memset(file, 0, sizeof *file);
}

void safe_file_abort(struct safe_file *file)
{
    if (!file || !file->tmp_path)
        return;
    if (file->fp)
        fclose(file->fp);
    unlink(file->tmp_path);
    temp_unregister(file->tmp_path);
    release(file);
}

static void sync_folder(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t n = slash == path ? 1 : (size_t)(slash - path);
        if (n >= sizeof dir)
            return;
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd); /* best effort: some file systems refuse fsync on folders */
        close(fd);
    }
}

enum quanta_status safe_file_commit(struct safe_file *file, struct quanta_error *err)
{
    if (!file->fp) {
        release(file);
        return quanta_fail(err, QUANTA_ERR_INTERNAL, "commit of a file that is not open");
    }
    const char *path = file->path;
    enum quanta_status st = QUANTA_OK;
    errno = 0;
    if (fflush(file->fp) != 0 || fsync(fileno(file->fp)) != 0) {
        st = quanta_fail(err, QUANTA_ERR_OUTPUT, "%s: cannot write: %s", path,
                         strerror(errno ? errno : EIO));
        fclose(file->fp);
        file->fp = NULL;
        goto fail;
    }
    errno = 0;
    int rc = fclose(file->fp);
    file->fp = NULL;
    if (rc != 0) {
        st = quanta_fail(err, QUANTA_ERR_OUTPUT, "%s: cannot write: %s", path,
                         strerror(errno ? errno : EIO));
        goto fail;
    }
    if (rename(file->tmp_path, path) != 0) {
        st = quanta_fail(err, QUANTA_ERR_OUTPUT, "%s: cannot rename the temporary file into "
                         "place: %s", path, strerror(errno));
        goto fail;
    }
    temp_unregister(file->tmp_path);
    sync_folder(path);
    release(file);
    return QUANTA_OK;
fail:
    unlink(file->tmp_path);
    temp_unregister(file->tmp_path);
    release(file);
    return st;
}

enum quanta_status safe_file_write_all(const char *path, const void *bytes, size_t size,
                                       struct quanta_error *err)
{
    struct safe_file f;
    enum quanta_status st = safe_file_open(&f, path, err);
    if (st != QUANTA_OK)
        return st;
    st = safe_file_write(&f, bytes, size, err);
    if (st != QUANTA_OK) {
        safe_file_abort(&f);
        return st;
    }
    return safe_file_commit(&f, err);
}

enum quanta_status safe_file_check_not_input(const char *output, const char *input,
                                             struct quanta_error *err)
{
    struct stat so, si;
    if (stat(output, &so) == 0 && !S_ISREG(so.st_mode))
        return quanta_fail(err, QUANTA_ERR_USAGE, "refusing to replace '%s': not a regular file",
                           output);
    if (strcmp(output, input) == 0 ||
        (stat(output, &so) == 0 && stat(input, &si) == 0 && so.st_dev == si.st_dev &&
         so.st_ino == si.st_ino))
        return quanta_fail(err, QUANTA_ERR_USAGE, "refusing to overwrite input '%s'", output);
    return QUANTA_OK;
}
