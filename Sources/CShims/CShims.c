// posix_spawn_file_actions_addclosefrom_np is a GNU extension (glibc 2.34+).
#define _GNU_SOURCE
#include "CShims.h"
#include <malloc.h>
#include <sys/epoll.h>

// mallopt's M_ARENA_MAX is a macro of glibc's malloc.h.
int ll_malloc_arena_max(int arenas) { return mallopt(M_ARENA_MAX, arenas); }

int ll_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int ll_epoll_watch(int epfd, int fd, int modify, int oneShot, unsigned long long token) {
    struct epoll_event event = { .events = EPOLLIN | EPOLLRDHUP | (oneShot ? EPOLLONESHOT : 0), .data.u64 = token };
    return epoll_ctl(epfd, modify ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &event);
}

int ll_epoll_forget(int epfd, int fd) { return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL); }

int ll_epoll_wait(int epfd, unsigned long long *tokens, int max, int timeoutMs) {
    struct epoll_event events[256];
    if (max > 256) max = 256;
    int ready = epoll_wait(epfd, events, max, timeoutMs);
    for (int i = 0; i < ready; i++) tokens[i] = events[i].data.u64;
    return ready;
}

long ll_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) { return SSL_CTX_set_min_proto_version(ctx, version); }
long ll_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) { return SSL_CTX_set_max_proto_version(ctx, version); }
long ll_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_mode(ctx, mode); }
long ll_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_session_cache_mode(ctx, mode); }
int ll_SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *list) { return (int)SSL_CTX_set1_groups_list(ctx, list); }
long ll_SSL_set_tlsext_host_name(SSL *ssl, const char *name) { return SSL_set_tlsext_host_name(ssl, name); }
int ll_BIO_pending(BIO *bio) { return (int)BIO_pending(bio); }
int ll_BIO_should_retry(BIO *bio) { return BIO_should_retry(bio); }
void ll_OPENSSL_free(void *ptr) { OPENSSL_free(ptr); }
int ll_TLS1_2_VERSION(void) { return TLS1_2_VERSION; }
int ll_TLS1_3_VERSION(void) { return TLS1_3_VERSION; }
long ll_SSL_MODE_ENABLE_PARTIAL_WRITE(void) { return SSL_MODE_ENABLE_PARTIAL_WRITE; }
long ll_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER(void) { return SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER; }
long ll_SSL_MODE_RELEASE_BUFFERS(void) { return SSL_MODE_RELEASE_BUFFERS; }

int ll_sk_GENERAL_NAME_num(const GENERAL_NAMES *names) { return sk_GENERAL_NAME_num(names); }
GENERAL_NAME *ll_sk_GENERAL_NAME_value(const GENERAL_NAMES *names, int i) { return sk_GENERAL_NAME_value(names, i); }
void ll_GENERAL_NAMES_free(GENERAL_NAMES *names) { GENERAL_NAMES_free(names); }

int ll_EVP_CIPHER_CTX_set_gcm_ivlen(EVP_CIPHER_CTX *ctx, int length) { return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, length, NULL); }
int ll_EVP_CIPHER_CTX_get_gcm_tag(EVP_CIPHER_CTX *ctx, unsigned char *tag, int length) { return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, length, tag); }
int ll_EVP_CIPHER_CTX_set_gcm_tag(EVP_CIPHER_CTX *ctx, const unsigned char *tag, int length) { return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, length, (void *)tag); }

sqlite3_destructor_type ll_SQLITE_TRANSIENT(void) { return SQLITE_TRANSIENT; }
int ll_sqlite3_db_config_defensive(sqlite3 *db, int on) { return sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, on, (int *)0); }

int ll_posix_spawn_file_actions_addclosefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}
