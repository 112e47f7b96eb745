#ifndef LIFELINE_CSHIMS_H
#define LIFELINE_CSHIMS_H

// Wrappers for what Swift cannot import: OpenSSL and SQLite macros and variadic
// functions, one GNU extension of libc, one glibc malloc tunable and epoll
// (Glibc's module map leaves sys/epoll.h out; its event struct is packed). Every wrapper is prefixed `ll_` and
// does nothing but forward.

#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/x509v3.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <spawn.h>

int ll_malloc_arena_max(int arenas);

/// epoll_create1(EPOLL_CLOEXEC).
int ll_epoll_create(void);
/// epoll_ctl(epfd, EPOLL_CTL_ADD or, with `modify`, EPOLL_CTL_MOD, fd) for
/// readability, one-shot (`oneShot`), with `token` as the event's data.
int ll_epoll_watch(int epfd, int fd, int modify, int oneShot, unsigned long long token);
/// epoll_ctl(epfd, EPOLL_CTL_DEL, fd).
int ll_epoll_forget(int epfd, int fd);
/// epoll_wait into parallel arrays: the tokens of up to `max` ready descriptors.
int ll_epoll_wait(int epfd, unsigned long long *tokens, int max, int timeoutMs);
long ll_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version);
long ll_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version);
long ll_SSL_CTX_set_mode(SSL_CTX *ctx, long mode);
long ll_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long mode);
int ll_SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *list);
long ll_SSL_set_tlsext_host_name(SSL *ssl, const char *name);
int ll_BIO_pending(BIO *bio);
int ll_BIO_should_retry(BIO *bio);
void ll_OPENSSL_free(void *ptr);
int ll_TLS1_2_VERSION(void);
int ll_TLS1_3_VERSION(void);
long ll_SSL_MODE_ENABLE_PARTIAL_WRITE(void);
long ll_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER(void);
long ll_SSL_MODE_RELEASE_BUFFERS(void);

/// Number of GENERAL_NAME entries in a stack (sk_GENERAL_NAME_num).
int ll_sk_GENERAL_NAME_num(const GENERAL_NAMES *names);
/// The i-th GENERAL_NAME (sk_GENERAL_NAME_value).
GENERAL_NAME *ll_sk_GENERAL_NAME_value(const GENERAL_NAMES *names, int i);
/// Frees a GENERAL_NAMES stack and its members (GENERAL_NAMES_free).
void ll_GENERAL_NAMES_free(GENERAL_NAMES *names);

/// EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, length, NULL): the AES-GCM nonce length.
int ll_EVP_CIPHER_CTX_set_gcm_ivlen(EVP_CIPHER_CTX *ctx, int length);
/// EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, length, tag): read the tag after EncryptFinal.
int ll_EVP_CIPHER_CTX_get_gcm_tag(EVP_CIPHER_CTX *ctx, unsigned char *tag, int length);
/// EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, length, tag): the expected tag, BEFORE DecryptFinal.
int ll_EVP_CIPHER_CTX_set_gcm_tag(EVP_CIPHER_CTX *ctx, const unsigned char *tag, int length);

/// SQLITE_TRANSIENT: SQLite copies the bound buffer before returning.
sqlite3_destructor_type ll_SQLITE_TRANSIENT(void);
/// sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, on, NULL).
int ll_sqlite3_db_config_defensive(sqlite3 *db, int on);

/// Closes every descriptor from `from` up in the child (posix_spawn_file_actions_addclosefrom_np).
int ll_posix_spawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int from);

#endif
