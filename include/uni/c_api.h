/* uni/c_api.h — a small C ABI over the boss library (libuni-client.so), for
   bindings in other languages: the Python package calls it through ctypes to
   reach every broker the library speaks (the built-in manager and NATS
   JetStream) with one implementation (docs/python.md).

   One uni_c_cluster is one connection (uni::connect). Modules are handed
   over as bytes once and then named by their hash; tasks are submitted with
   msgpack arguments; their results, and "service started" events, are taken
   in batches by uni_c_events as one msgpack array, so that a binding pays
   one foreign call per batch, not per task. Every function may be called
   from any thread; uni_c_close must be the last call on a cluster.

   Errors: functions that can fail return NULL or a negative number and write
   a message into `error` (at most error_size bytes, NUL-terminated). */
#ifndef UNI_C_API_H
#define UNI_C_API_H

#include <stddef.h>
#include <stdint.h>

/* The library is built with hidden visibility and exports only its public
   symbols: these declarations are among them. */
#pragma GCC visibility push(default)

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uni_c_cluster uni_c_cluster;

/* Why uni_c_connect failed, as uni::ConnectError says. */
enum uni_c_connect_failure {
  UNI_C_UNREACHABLE = 1,
  UNI_C_AUTH_FAILED = 2,
  UNI_C_REFUSED = 3,
  UNI_C_LOCAL_ERROR = 4 /* an unreadable authkey file, a bad address, ... */
};

/* Connects as uni::connect does (address NULL or "": $UNI_CONNECT; authkey
   and authkey_file may be NULL). On failure: NULL, *reason and error set. */
uni_c_cluster* uni_c_connect(const char* address, const char* authkey, const char* authkey_file,
                             int connect_timeout_ms, size_t max_outstanding, int* reason,
                             char* error, size_t error_size);

/* Makes uni_c_events return -1, now and from now on: call it, let the
   thread taking events leave, then uni_c_close. */
void uni_c_interrupt(uni_c_cluster* cluster);

/* Closes the connection (tasks still unfinished are left to the broker) and
   frees the cluster. No other call on it may be running or follow. */
void uni_c_close(uni_c_cluster* cluster);

/* The boss session (the first half of task ids) and the broker's address. */
uint64_t uni_c_session(const uni_c_cluster* cluster);

/* Hands over a module's bytes (a uni module file's contents), checked as a
   module; `name` names it in messages. Writes its BLAKE2b-256 hash into
   hash_out (32 bytes), by which tasks name it. 0, or -1 with error. */
int uni_c_module(uni_c_cluster* cluster, const char* bytes, size_t size, const char* name,
                 unsigned char* hash_out, char* error, size_t error_size);

/* Submits `count` tasks of function `function` of the module `hash` (handed
   over before), the i-th with the msgpack array args + offsets[i] of
   sizes[i] bytes. Their ids are consecutive: the first is written to
   *first_seq. Blocks while max_outstanding tasks are unfinished. flags: the
   wire's task flags (1 service, 2 detached, 8 started-event). 0, or -1. */
int uni_c_submit(uni_c_cluster* cluster, const unsigned char* hash, const char* function,
                 const char* args, const uint64_t* offsets, const uint64_t* sizes, size_t count,
                 uint32_t timeout_ms, uint32_t wait_ms, uint8_t max_attempts, uint8_t flags,
                 uint64_t* first_seq, char* error, size_t error_size);

/* Waits up to timeout_ms for events and takes them all: *events is a msgpack
   array of [kind, seq, status, payload, worker, host, pid], kind 0 a result
   (status as on the wire, payload its bytes) and 1 a service reported
   running (the rest nil); free it with uni_c_free. Returns the number of
   events (0 at the timeout), or -1 once the cluster is closing. */
int uni_c_events(uni_c_cluster* cluster, int timeout_ms, char** events, size_t* size);

/* Cancels tasks of this session by seq, without waiting for an answer. */
void uni_c_cancel(uni_c_cluster* cluster, const uint64_t* seqs, size_t count);

/* Stops a task or service of any boss by id ("<session hex>-<seq>") and
   writes the outcome ("cancelled", "stopping", "done", "unknown") into
   outcome. 0, or -1 with error. */
int uni_c_stop(uni_c_cluster* cluster, const char* id, int timeout_ms, char* outcome,
               size_t outcome_size, char* error, size_t error_size);

/* The broker's status, the map of STATUS_REPLY (docs/protocol.md) as msgpack
   (free with uni_c_free), or NULL with error. */
char* uni_c_status(uni_c_cluster* cluster, int timeout_ms, size_t* size, char* error,
                   size_t error_size);

void uni_c_free(char* data);

#ifdef __cplusplus
}
#endif

#pragma GCC visibility pop

#endif /* UNI_C_API_H */
