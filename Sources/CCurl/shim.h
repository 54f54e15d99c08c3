// Typed wrappers over libcurl's variadic setopt/getinfo, which Swift cannot call directly.
#ifndef CURATE_CCURL_SHIM_H
#define CURATE_CCURL_SHIM_H
#include <curl/curl.h>

static inline CURLcode curate_easy_set_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode curate_easy_set_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode curate_easy_set_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode curate_easy_set_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode curate_easy_set_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }

typedef size_t (*curate_data_cb)(char *ptr, size_t size, size_t nmemb, void *userdata);
static inline CURLcode curate_easy_set_write(CURL *h, curate_data_cb cb, void *ud) {
    CURLcode rc = curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, cb);
    return rc != CURLE_OK ? rc : curl_easy_setopt(h, CURLOPT_WRITEDATA, ud);
}
static inline CURLcode curate_easy_set_header(CURL *h, curate_data_cb cb, void *ud) {
    CURLcode rc = curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, cb);
    return rc != CURLE_OK ? rc : curl_easy_setopt(h, CURLOPT_HEADERDATA, ud);
}

static inline CURLcode curate_easy_set_opensocket(CURL *h, curl_opensocket_callback cb, void *ud) {
    CURLcode rc = curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, cb);
    return rc != CURLE_OK ? rc : curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, ud);
}

static inline CURLcode curate_easy_get_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode curate_easy_get_off(CURL *h, CURLINFO i, curl_off_t *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode curate_easy_get_double(CURL *h, CURLINFO i, double *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode curate_easy_get_string(CURL *h, CURLINFO i, char **v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode curate_easy_get_pointer(CURL *h, CURLINFO i, void **v) { return curl_easy_getinfo(h, i, v); }

static inline CURLMcode curate_multi_set_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }

// CURLMsg holds a union; expose its fields plainly.
static inline CURL *curate_msg_easy(const CURLMsg *m) { return m->easy_handle; }
static inline int curate_msg_done(const CURLMsg *m) { return m->msg == CURLMSG_DONE; }
static inline CURLcode curate_msg_result(const CURLMsg *m) { return m->data.result; }
// CURLVERSION_NOW is a macro Swift cannot import.
static inline curl_version_info_data *curate_version_info(void) { return curl_version_info(CURLVERSION_NOW); }
#endif
