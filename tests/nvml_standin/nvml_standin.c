/*
 * NVML STAND-IN: a fake libnvidia-ml.so.1 for machines without an NVIDIA GPU (tests only).
 *
 * It exports the NVML entry points mlopstui uses, with the real C signatures and struct
 * layouts, so the unmodified pynvml bindings (nvidia-ml-py 13) run over it exactly as they
 * would over the real driver library: ctypes loading, struct versions, error codes mapped to
 * pynvml.NVMLError_* subclasses. It is NOT NVIDIA's library and knows nothing about hardware:
 * every answer comes from a small text file.
 *
 * Environment (read by every nvmlInit / nvmlInit_v2 / nvmlInitWithFlags call):
 *   MLOPSTUI_NVML_FIXTURE    path of the fixture file. Unset: a driver with no GPUs.
 *                            The file is parsed at init (a bad file makes init fail with
 *                            NVML_ERROR_UNKNOWN) and parsed again on EVERY query, so a test
 *                            changes what NVML reports by rewriting the file (atomically).
 *   MLOPSTUI_NVML_FAIL_INIT  make init fail: driver -> NVML_ERROR_DRIVER_NOT_LOADED,
 *                            permission -> NVML_ERROR_NO_PERMISSION,
 *                            mismatch -> NVML_ERROR_LIB_RM_VERSION_MISMATCH,
 *                            unknown -> NVML_ERROR_UNKNOWN.
 *
 * Fixture format: one record per line; blank lines and lines starting with '#' are ignored.
 * After the record word (and index) come key=value pairs separated by blanks; a value holding
 * blanks is written in double quotes (no escapes; a value cannot contain '"' or a newline).
 * Unknown keys and malformed numbers are errors (reported on stderr, query returns
 * NVML_ERROR_UNKNOWN). Numbers are non-negative decimal integers.
 *
 *   system driver=550.54.15 nvml=12.550.54.15
 *       Optional; these are the defaults.
 *   device <index> name="NVIDIA H100 80GB HBM3" uuid=GPU-... util=37 mem_util=20
 *          mem_total=85899345920 mem_used=1073741824 mem_reserved=0 temp=61
 *          power_mw=250000 power_limit_mw=700000 fan=NA lost=0
 *       Devices are numbered 0, 1, 2, ... in the order of their lines (<index> must match).
 *       util/mem_util: percent (nvmlDeviceGetUtilizationRates .gpu/.memory);
 *       mem_*: bytes; temp: degrees C (sensor NVML_TEMPERATURE_GPU only); power_*: milliwatts;
 *       fan: percent. A field that is NA, or absent, makes its query return
 *       NVML_ERROR_NOT_SUPPORTED (mem_reserved defaults to 0). Utilization needs util and
 *       mem_util; memory info needs mem_total and mem_used.
 *       lost=1: every query on that device (handle by index included) returns
 *       NVML_ERROR_GPU_IS_LOST; nvmlDeviceGetCount still counts it. A handle whose device line
 *       disappears from the file also reports NVML_ERROR_GPU_IS_LOST.
 *   process <device-index> pid=1234 used_mem=2147483648 kind=compute gi=NA ci=NA
 *       A process on a device. kind: compute (default) or graphics; used_mem: bytes, NA ->
 *       NVML_VALUE_NOT_AVAILABLE (pynvml turns it into None); gi/ci: MIG GPU/compute instance
 *       ids (default NA = 0xFFFFFFFF).
 *
 * Memory: v1 nvmlMemory_t {total, free, used} reports used = mem_used + mem_reserved (as the
 * real v1 call does); nvmlDeviceGetMemoryInfo_v2 takes nvmlMemory_v2_t {version, total,
 * reserved, free, used}, insists on version == nvmlMemory_v2 (0x02000028, else
 * NVML_ERROR_ARGUMENT_VERSION_MISMATCH) and reports used = mem_used; free = total - reserved -
 * mem_used in both. Processes: the unversioned calls fill nvmlProcessInfo_v1_t {pid,
 * usedGpuMemory} (16 bytes); the _v2 and _v3 calls (pynvml 13 calls _v3) fill
 * nvmlProcessInfo_v2_t {pid, usedGpuMemory, gpuInstanceId, computeInstanceId} (24 bytes),
 * with NVML's two-call protocol: too small a *infoCount -> NVML_ERROR_INSUFFICIENT_SIZE and
 * *infoCount set to the number needed.
 *
 * Build: gcc -shared -fPIC -O2 -Wall -Wextra -pthread -Wl,-soname,libnvidia-ml.so.1 \
 *            -o libnvidia-ml.so.1 nvml_standin.c        (see build.py)
 */

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_NO_PERMISSION = 4,
    NVML_ERROR_ALREADY_INITIALIZED = 5,
    NVML_ERROR_NOT_FOUND = 6,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_INSUFFICIENT_POWER = 8,
    NVML_ERROR_DRIVER_NOT_LOADED = 9,
    NVML_ERROR_TIMEOUT = 10,
    NVML_ERROR_IRQ_ISSUE = 11,
    NVML_ERROR_LIBRARY_NOT_FOUND = 12,
    NVML_ERROR_FUNCTION_NOT_FOUND = 13,
    NVML_ERROR_CORRUPTED_INFOROM = 14,
    NVML_ERROR_GPU_IS_LOST = 15,
    NVML_ERROR_RESET_REQUIRED = 16,
    NVML_ERROR_OPERATING_SYSTEM = 17,
    NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18,
    NVML_ERROR_IN_USE = 19,
    NVML_ERROR_MEMORY = 20,
    NVML_ERROR_NO_DATA = 21,
    NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25,
    NVML_ERROR_UNKNOWN = 999,
};
typedef int nvmlReturn_t; /* a C enum in nvml.h: int-sized, what ctypes expects by default */

#define NVML_TEMPERATURE_GPU 0
#define NVML_VALUE_NOT_AVAILABLE_ULL 0xFFFFFFFFFFFFFFFFULL
#define NVML_VALUE_NOT_AVAILABLE_UINT 0xFFFFFFFFU

typedef struct nvmlDevice_st {
    unsigned int index;
} *nvmlDevice_t;

typedef struct {
    unsigned int gpu;
    unsigned int memory;
} nvmlUtilization_t;

typedef struct {
    unsigned long long total;
    unsigned long long free;
    unsigned long long used;
} nvmlMemory_t;

typedef struct {
    unsigned int version;
    unsigned long long total;
    unsigned long long reserved;
    unsigned long long free;
    unsigned long long used;
} nvmlMemory_v2_t;

typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
} nvmlProcessInfo_v1_t;

/* nvml.h uses this layout for both the _v2 and the _v3 process calls. */
typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId;
    unsigned int computeInstanceId;
} nvmlProcessInfo_v2_t;

#define NVML_STRUCT_VERSION(data, ver) \
    ((unsigned int)(sizeof(nvml##data##_v##ver##_t) | ((unsigned int)(ver) << 24U)))
#define nvmlMemory_v2 NVML_STRUCT_VERSION(Memory, 2)

_Static_assert(sizeof(nvmlMemory_v2_t) == 40, "nvmlMemory_v2_t layout");
_Static_assert(nvmlMemory_v2 == 0x02000028U, "nvmlMemory_v2 version word");
_Static_assert(sizeof(nvmlProcessInfo_v1_t) == 16, "nvmlProcessInfo_v1_t layout");
_Static_assert(sizeof(nvmlProcessInfo_v2_t) == 24, "nvmlProcessInfo_v2_t layout");

/* ---- fixture model ------------------------------------------------------------------------ */

#define MAX_DEVICES 64
#define MAX_PROCS 1024
#define STR_LEN 96
#define NA (-1LL)

typedef struct {
    int name_set, uuid_set;
    char name[STR_LEN];
    char uuid[STR_LEN];
    long long util, mem_util, mem_total, mem_used, mem_reserved, temp, power_mw, power_limit_mw,
        fan;
    int lost;
} device_t;

typedef struct {
    unsigned int device;
    int graphics;
    long long pid, used_mem, gi, ci;
} process_t;

typedef struct {
    char driver[80];
    char nvml[80];
    unsigned int n_devices;
    device_t dev[MAX_DEVICES];
    unsigned int n_procs;
    process_t proc[MAX_PROCS];
} fixture_t;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned int g_init_count;
static char g_path[4096];
static struct nvmlDevice_st g_handles[MAX_DEVICES];

static void complain(const char *path, int line, const char *what, const char *detail)
{
    if (line > 0)
        fprintf(stderr, "nvml stand-in: %s:%d: %s%s%s\n", path, line, what, detail ? ": " : "",
                detail ? detail : "");
    else
        fprintf(stderr, "nvml stand-in: %s: %s%s%s\n", path, what, detail ? ": " : "",
                detail ? detail : "");
}

/* Next blank-separated word (or key=value pair) starting at *cur; 0 at end of line. */
static int next_word(char **cur, char **word)
{
    char *p = *cur;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    if (*p == '\0')
        return 0;
    *word = p;
    int quoted = 0;
    while (*p && (quoted || !(*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))) {
        if (*p == '"')
            quoted = !quoted;
        p++;
    }
    if (quoted)
        return -1;
    if (*p)
        *p++ = '\0';
    *cur = p;
    return 1;
}

/* Non-negative decimal or NA. */
static int parse_num(const char *s, long long *out, int allow_na)
{
    if (allow_na && strcmp(s, "NA") == 0) {
        *out = NA;
        return 0;
    }
    if (*s < '0' || *s > '9')
        return -1;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || v > 0x7FFFFFFFFFFFFFFFULL)
        return -1;
    *out = (long long)v;
    return 0;
}

static int parse_index(const char *s, unsigned int limit, unsigned int *out)
{
    long long v;
    if (parse_num(s, &v, 0) != 0 || v >= (long long)limit)
        return -1;
    *out = (unsigned int)v;
    return 0;
}

/* Strip surrounding double quotes in place; a value with quotes inside is an error. */
static int unquote(char **value)
{
    char *v = *value;
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v[n - 1] = '\0';
        v++;
    }
    if (strchr(v, '"'))
        return -1;
    *value = v;
    return 0;
}

static int set_string(char *dst, int *flag, const char *value)
{
    if (strcmp(value, "NA") == 0) {
        *flag = 0;
        return 0;
    }
    if (strlen(value) >= STR_LEN)
        return -1;
    strcpy(dst, value);
    *flag = 1;
    return 0;
}

static int device_field(device_t *d, const char *key, const char *value)
{
    struct {
        const char *key;
        long long *field;
    } nums[] = {
        {"util", &d->util},           {"mem_util", &d->mem_util},
        {"mem_total", &d->mem_total}, {"mem_used", &d->mem_used},
        {"mem_reserved", &d->mem_reserved}, {"temp", &d->temp},
        {"power_mw", &d->power_mw},   {"power_limit_mw", &d->power_limit_mw},
        {"fan", &d->fan},
    };
    if (strcmp(key, "name") == 0)
        return set_string(d->name, &d->name_set, value);
    if (strcmp(key, "uuid") == 0)
        return set_string(d->uuid, &d->uuid_set, value);
    if (strcmp(key, "lost") == 0) {
        if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0)
            return -1;
        d->lost = value[0] == '1';
        return 0;
    }
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        if (strcmp(key, nums[i].key) != 0)
            continue;
        if (parse_num(value, nums[i].field, 1) != 0)
            return -1;
        /* Everything but the byte counts comes back through an unsigned int. */
        int bytes = strncmp(key, "mem_", 4) == 0 && strcmp(key, "mem_util") != 0;
        return !bytes && *nums[i].field > 0xFFFFFFFFLL ? -1 : 0;
    }
    return -1;
}

static int process_field(process_t *p, const char *key, const char *value)
{
    if (strcmp(key, "pid") == 0)
        return parse_num(value, &p->pid, 0) != 0 || p->pid > 0xFFFFFFFFLL ? -1 : 0;
    if (strcmp(key, "used_mem") == 0)
        return parse_num(value, &p->used_mem, 1);
    if (strcmp(key, "gi") == 0)
        return parse_num(value, &p->gi, 1) != 0 || p->gi >= 0xFFFFFFFFLL ? -1 : 0;
    if (strcmp(key, "ci") == 0)
        return parse_num(value, &p->ci, 1) != 0 || p->ci >= 0xFFFFFFFFLL ? -1 : 0;
    if (strcmp(key, "kind") == 0) {
        if (strcmp(value, "compute") == 0)
            p->graphics = 0;
        else if (strcmp(value, "graphics") == 0)
            p->graphics = 1;
        else
            return -1;
        return 0;
    }
    return -1;
}

static void fixture_defaults(fixture_t *fx)
{
    strcpy(fx->driver, "550.54.15");
    strcpy(fx->nvml, "12.550.54.15");
}

/* Parse the fixture at path into fx; 0 on success, -1 (after a message on stderr) if not. */
static int parse_fixture(const char *path, fixture_t *fx)
{
    fixture_defaults(fx);
    FILE *f = fopen(path, "r");
    if (!f) {
        complain(path, 0, "cannot open the fixture file", NULL);
        return -1;
    }
    char line[2048];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            complain(path, lineno, "line too long", NULL);
            rc = -1;
            break;
        }
        char *cur = line, *kind, *word;
        int got = next_word(&cur, &kind);
        if (got == 0 || kind[0] == '#')
            continue;
        device_t *d = NULL;
        process_t *p = NULL;
        if (got < 0) {
            complain(path, lineno, "unbalanced quote", NULL);
            rc = -1;
            break;
        }
        if (strcmp(kind, "system") == 0) {
            /* key=value pairs below */
        } else if (strcmp(kind, "device") == 0) {
            unsigned int idx;
            if (next_word(&cur, &word) != 1 || parse_index(word, MAX_DEVICES, &idx) != 0 ||
                idx != fx->n_devices) {
                complain(path, lineno, "device lines must be numbered 0, 1, 2, ... in order",
                         NULL);
                rc = -1;
                break;
            }
            d = &fx->dev[fx->n_devices++];
            memset(d, 0, sizeof *d);
            d->util = d->mem_util = d->mem_total = d->mem_used = d->temp = NA;
            d->power_mw = d->power_limit_mw = d->fan = NA;
            d->mem_reserved = 0;
        } else if (strcmp(kind, "process") == 0) {
            unsigned int idx;
            if (fx->n_procs >= MAX_PROCS) {
                complain(path, lineno, "too many process lines", NULL);
                rc = -1;
                break;
            }
            if (next_word(&cur, &word) != 1 || parse_index(word, MAX_DEVICES, &idx) != 0) {
                complain(path, lineno, "process needs a device index", NULL);
                rc = -1;
                break;
            }
            p = &fx->proc[fx->n_procs++];
            memset(p, 0, sizeof *p);
            p->device = idx;
            p->pid = NA;
            p->used_mem = p->gi = p->ci = NA;
        } else {
            complain(path, lineno, "unknown record (want system, device or process)", kind);
            rc = -1;
            break;
        }
        while (rc == 0 && (got = next_word(&cur, &word)) != 0) {
            char *eq = got > 0 ? strchr(word, '=') : NULL;
            if (!eq || eq == word) {
                complain(path, lineno, "expected key=value", got > 0 ? word : "unbalanced quote");
                rc = -1;
                break;
            }
            *eq = '\0';
            char *key = word, *value = eq + 1;
            int bad = unquote(&value);
            if (!bad && d)
                bad = device_field(d, key, value);
            else if (!bad && p)
                bad = process_field(p, key, value);
            else if (!bad && strcmp(key, "driver") == 0 && strlen(value) < sizeof fx->driver)
                strcpy(fx->driver, value);
            else if (!bad && strcmp(key, "nvml") == 0 && strlen(value) < sizeof fx->nvml)
                strcpy(fx->nvml, value);
            else
                bad = -1;
            if (bad) {
                complain(path, lineno, "bad field", key);
                rc = -1;
            }
        }
        if (rc == 0 && p && p->pid == NA) {
            complain(path, lineno, "process needs pid=", NULL);
            rc = -1;
        }
    }
    fclose(f);
    for (unsigned int i = 0; rc == 0 && i < fx->n_procs; i++) {
        if (fx->proc[i].device >= fx->n_devices) {
            complain(path, 0, "a process line names a device that has no device line", NULL);
            rc = -1;
        }
    }
    return rc;
}

/* Check init and load the current fixture (caller frees *out). */
static nvmlReturn_t load(fixture_t **out)
{
    char path[sizeof g_path];
    pthread_mutex_lock(&g_lock);
    unsigned int initialised = g_init_count;
    memcpy(path, g_path, sizeof path);
    pthread_mutex_unlock(&g_lock);
    if (!initialised)
        return NVML_ERROR_UNINITIALIZED;
    fixture_t *fx = calloc(1, sizeof *fx);
    if (!fx)
        return NVML_ERROR_MEMORY;
    if (path[0] == '\0')
        fixture_defaults(fx);
    else if (parse_fixture(path, fx) != 0) {
        free(fx);
        return NVML_ERROR_UNKNOWN;
    }
    *out = fx;
    return NVML_SUCCESS;
}

__attribute__((constructor)) static void number_handles(void)
{
    for (unsigned int i = 0; i < MAX_DEVICES; i++)
        g_handles[i].index = i;
}

static int valid_handle(nvmlDevice_t device)
{
    uintptr_t p = (uintptr_t)device, base = (uintptr_t)g_handles;
    return p >= base && p < base + sizeof g_handles && (p - base) % sizeof g_handles[0] == 0;
}

/* Copy out the device behind a handle: init, handle, presence and lost checks, in that order. */
static nvmlReturn_t get_device(nvmlDevice_t device, device_t *out, fixture_t **keep)
{
    pthread_mutex_lock(&g_lock);
    unsigned int initialised = g_init_count;
    pthread_mutex_unlock(&g_lock);
    if (!initialised)
        return NVML_ERROR_UNINITIALIZED;
    if (!valid_handle(device))
        return NVML_ERROR_INVALID_ARGUMENT;
    fixture_t *fx;
    nvmlReturn_t rc = load(&fx);
    if (rc != NVML_SUCCESS)
        return rc;
    if (device->index >= fx->n_devices || fx->dev[device->index].lost) {
        free(fx);
        return NVML_ERROR_GPU_IS_LOST;
    }
    *out = fx->dev[device->index];
    if (keep)
        *keep = fx;
    else
        free(fx);
    return NVML_SUCCESS;
}

static nvmlReturn_t copy_string(const char *src, char *buf, unsigned int length)
{
    if (!buf)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (strlen(src) + 1 > length)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    strcpy(buf, src);
    return NVML_SUCCESS;
}

static nvmlReturn_t get_uint(nvmlDevice_t device, unsigned int *out, size_t offset)
{
    device_t d;
    if (!out)
        return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t rc = get_device(device, &d, NULL);
    if (rc != NVML_SUCCESS)
        return rc;
    long long v = *(const long long *)((const char *)&d + offset);
    if (v == NA)
        return NVML_ERROR_NOT_SUPPORTED;
    *out = (unsigned int)v;
    return NVML_SUCCESS;
}

/* ---- init / shutdown / system ------------------------------------------------------------- */

EXPORT nvmlReturn_t nvmlInitWithFlags(unsigned int flags)
{
    (void)flags;
    const char *fail = getenv("MLOPSTUI_NVML_FAIL_INIT");
    if (fail && *fail) {
        if (strcmp(fail, "driver") == 0)
            return NVML_ERROR_DRIVER_NOT_LOADED;
        if (strcmp(fail, "permission") == 0)
            return NVML_ERROR_NO_PERMISSION;
        if (strcmp(fail, "mismatch") == 0)
            return NVML_ERROR_LIB_RM_VERSION_MISMATCH;
        if (strcmp(fail, "unknown") != 0)
            fprintf(stderr, "nvml stand-in: unknown MLOPSTUI_NVML_FAIL_INIT=%s\n", fail);
        return NVML_ERROR_UNKNOWN;
    }
    const char *path = getenv("MLOPSTUI_NVML_FIXTURE");
    if (!path)
        path = "";
    if (strlen(path) >= sizeof g_path) {
        fprintf(stderr, "nvml stand-in: MLOPSTUI_NVML_FIXTURE is too long\n");
        return NVML_ERROR_UNKNOWN;
    }
    if (path[0]) {
        fixture_t *fx = calloc(1, sizeof *fx);
        if (!fx)
            return NVML_ERROR_MEMORY;
        int bad = parse_fixture(path, fx);
        free(fx);
        if (bad)
            return NVML_ERROR_UNKNOWN;
    }
    pthread_mutex_lock(&g_lock);
    strcpy(g_path, path);
    g_init_count++;
    pthread_mutex_unlock(&g_lock);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlInit_v2(void) { return nvmlInitWithFlags(0); }

EXPORT nvmlReturn_t nvmlInit(void) { return nvmlInitWithFlags(0); }

EXPORT nvmlReturn_t nvmlShutdown(void)
{
    nvmlReturn_t rc = NVML_SUCCESS;
    pthread_mutex_lock(&g_lock);
    if (g_init_count == 0)
        rc = NVML_ERROR_UNINITIALIZED;
    else
        g_init_count--;
    pthread_mutex_unlock(&g_lock);
    return rc;
}

EXPORT const char *nvmlErrorString(nvmlReturn_t result)
{
    switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_ALREADY_INITIALIZED: return "Already Initialized";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_FUNCTION_NOT_FOUND: return "Function Not Found";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH: return "RM has detected an NVML/RM version mismatch.";
    case NVML_ERROR_MEMORY: return "Insufficient Memory";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "Argument Version Mismatch";
    case NVML_ERROR_UNKNOWN: return "Unknown Error";
    default: return "Unknown Error";
    }
}

EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
    fixture_t *fx;
    nvmlReturn_t rc = load(&fx);
    if (rc != NVML_SUCCESS)
        return rc;
    rc = copy_string(fx->driver, version, length);
    free(fx);
    return rc;
}

EXPORT nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length)
{
    fixture_t *fx;
    nvmlReturn_t rc = load(&fx);
    if (rc != NVML_SUCCESS)
        return rc;
    rc = copy_string(fx->nvml, version, length);
    free(fx);
    return rc;
}

/* ---- devices ------------------------------------------------------------------------------ */

EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount)
{
    if (!deviceCount)
        return NVML_ERROR_INVALID_ARGUMENT;
    fixture_t *fx;
    nvmlReturn_t rc = load(&fx);
    if (rc != NVML_SUCCESS)
        return rc;
    *deviceCount = fx->n_devices;
    free(fx);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetCount(unsigned int *deviceCount)
{
    return nvmlDeviceGetCount_v2(deviceCount);
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
    if (!device)
        return NVML_ERROR_INVALID_ARGUMENT;
    fixture_t *fx;
    nvmlReturn_t rc = load(&fx);
    if (rc != NVML_SUCCESS)
        return rc;
    if (index >= fx->n_devices)
        rc = NVML_ERROR_INVALID_ARGUMENT;
    else if (fx->dev[index].lost)
        rc = NVML_ERROR_GPU_IS_LOST;
    else
        *device = &g_handles[index];
    free(fx);
    return rc;
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device)
{
    return nvmlDeviceGetHandleByIndex_v2(index, device);
}

EXPORT nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index)
{
    device_t d;
    if (!index)
        return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t rc = get_device(device, &d, NULL);
    if (rc == NVML_SUCCESS)
        *index = device->index;
    return rc;
}

EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
{
    device_t d;
    nvmlReturn_t rc = get_device(device, &d, NULL);
    if (rc != NVML_SUCCESS)
        return rc;
    return d.name_set ? copy_string(d.name, name, length) : NVML_ERROR_NOT_SUPPORTED;
}

EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
{
    device_t d;
    nvmlReturn_t rc = get_device(device, &d, NULL);
    if (rc != NVML_SUCCESS)
        return rc;
    return d.uuid_set ? copy_string(d.uuid, uuid, length) : NVML_ERROR_NOT_SUPPORTED;
}

EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device,
                                                  nvmlUtilization_t *utilization)
{
    device_t d;
    if (!utilization)
        return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t rc = get_device(device, &d, NULL);
    if (rc != NVML_SUCCESS)
        return rc;
    if (d.util == NA || d.mem_util == NA)
        return NVML_ERROR_NOT_SUPPORTED;
    utilization->gpu = (unsigned int)d.util;
    utilization->memory = (unsigned int)d.mem_util;
    return NVML_SUCCESS;
}

static unsigned long long sub_floor0(long long a, long long b)
{
    return a > b ? (unsigned long long)(a - b) : 0ULL;
}

EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
    device_t d;
    if (!memory)
        return NVML_ERROR_INVALID_ARGUMENT;
    nvmlReturn_t rc = get_device(device, &d, NULL);
    if (rc != NVML_SUCCESS)
        return rc;
    if (d.mem_total == NA || d.mem_used == NA)
        return NVML_ERROR_NOT_SUPPORTED;
    long long reserved = d.mem_reserved == NA ? 0 : d.mem_reserved;
    memory->total = (unsigned long long)d.mem_total;
    memory->used = (unsigned long long)d.mem_used + (unsigned long long)reserved;
    memory->free = sub_floor0(d.mem_total, d.mem_used + reserved);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory)
{
    device_t d;
    if (!memory)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (memory->version != nvmlMemory_v2)
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    nvmlReturn_t rc = get_device(device, &d, NULL);
    if (rc != NVML_SUCCESS)
        return rc;
    if (d.mem_total == NA || d.mem_used == NA)
        return NVML_ERROR_NOT_SUPPORTED;
    long long reserved = d.mem_reserved == NA ? 0 : d.mem_reserved;
    memory->total = (unsigned long long)d.mem_total;
    memory->reserved = (unsigned long long)reserved;
    memory->used = (unsigned long long)d.mem_used;
    memory->free = sub_floor0(d.mem_total, d.mem_used + reserved);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, unsigned int sensorType,
                                             unsigned int *temp)
{
    if (sensorType != NVML_TEMPERATURE_GPU) {
        device_t d;
        nvmlReturn_t rc = get_device(device, &d, NULL);
        return rc != NVML_SUCCESS ? rc : NVML_ERROR_INVALID_ARGUMENT;
    }
    return get_uint(device, temp, offsetof(device_t, temp));
}

EXPORT nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power)
{
    return get_uint(device, power, offsetof(device_t, power_mw));
}

EXPORT nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned int *limit)
{
    return get_uint(device, limit, offsetof(device_t, power_limit_mw));
}

EXPORT nvmlReturn_t nvmlDeviceGetFanSpeed(nvmlDevice_t device, unsigned int *speed)
{
    return get_uint(device, speed, offsetof(device_t, fan));
}

/* ---- running processes -------------------------------------------------------------------- */

static nvmlReturn_t get_processes(nvmlDevice_t device, int graphics, unsigned int *infoCount,
                                  void *infos, int v1)
{
    if (!infoCount)
        return NVML_ERROR_INVALID_ARGUMENT;
    device_t d;
    fixture_t *fx;
    nvmlReturn_t rc = get_device(device, &d, &fx);
    if (rc != NVML_SUCCESS)
        return rc;
    unsigned int n = 0;
    for (unsigned int i = 0; i < fx->n_procs; i++)
        if (fx->proc[i].device == device->index && fx->proc[i].graphics == graphics)
            n++;
    if (*infoCount < n) {
        *infoCount = n;
        free(fx);
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    if (n > 0 && !infos) {
        free(fx);
        return NVML_ERROR_INVALID_ARGUMENT;
    }
    unsigned int k = 0;
    for (unsigned int i = 0; i < fx->n_procs; i++) {
        const process_t *p = &fx->proc[i];
        if (p->device != device->index || p->graphics != graphics)
            continue;
        unsigned long long used =
            p->used_mem == NA ? NVML_VALUE_NOT_AVAILABLE_ULL : (unsigned long long)p->used_mem;
        if (v1) {
            nvmlProcessInfo_v1_t *out = (nvmlProcessInfo_v1_t *)infos + k++;
            out->pid = (unsigned int)p->pid;
            out->usedGpuMemory = used;
        } else {
            nvmlProcessInfo_v2_t *out = (nvmlProcessInfo_v2_t *)infos + k++;
            out->pid = (unsigned int)p->pid;
            out->usedGpuMemory = used;
            out->gpuInstanceId = p->gi == NA ? NVML_VALUE_NOT_AVAILABLE_UINT : (unsigned int)p->gi;
            out->computeInstanceId =
                p->ci == NA ? NVML_VALUE_NOT_AVAILABLE_UINT : (unsigned int)p->ci;
        }
    }
    *infoCount = n;
    free(fx);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t device,
                                                         unsigned int *infoCount,
                                                         nvmlProcessInfo_v1_t *infos)
{
    return get_processes(device, 0, infoCount, infos, 1);
}

EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t device,
                                                            unsigned int *infoCount,
                                                            nvmlProcessInfo_v2_t *infos)
{
    return get_processes(device, 0, infoCount, infos, 0);
}

EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device,
                                                            unsigned int *infoCount,
                                                            nvmlProcessInfo_v2_t *infos)
{
    return get_processes(device, 0, infoCount, infos, 0);
}

EXPORT nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses(nvmlDevice_t device,
                                                          unsigned int *infoCount,
                                                          nvmlProcessInfo_v1_t *infos)
{
    return get_processes(device, 1, infoCount, infos, 1);
}

EXPORT nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v2(nvmlDevice_t device,
                                                             unsigned int *infoCount,
                                                             nvmlProcessInfo_v2_t *infos)
{
    return get_processes(device, 1, infoCount, infos, 0);
}

EXPORT nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t device,
                                                             unsigned int *infoCount,
                                                             nvmlProcessInfo_v2_t *infos)
{
    return get_processes(device, 1, infoCount, infos, 0);
}
