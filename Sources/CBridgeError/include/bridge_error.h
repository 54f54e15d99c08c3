// The one error record every bridge fills (code 0 is success, else a message for the user), and for the bridges'
// C++ the one guard that turns every exception into such an error. Swift reads the record through Bridge.call.
#ifndef CURATE_BRIDGE_ERROR_H
#define CURATE_BRIDGE_ERROR_H

/// A failure: code 0 is success; message says what went wrong (NUL-terminated, cut to fit).
typedef struct {
    int code;
    char message[512];
} curate_error;

#ifdef __cplusplus
#include <cstring>
#include <stdexcept>
#include <string>

namespace curate {

/// Records an error (when the caller passed a record) and returns its code.
inline int fail(curate_error *err, int code, const std::string &message) {
    if (err) {
        err->code = code;
        std::strncpy(err->message, message.c_str(), sizeof(err->message) - 1);
        err->message[sizeof(err->message) - 1] = 0;
    }
    return code;
}

inline void ok(curate_error *err) {
    if (err) { err->code = 0; err->message[0] = 0; }
}

/// An exception that carries its own error code (a bridge's own kinds of failure).
struct coded_error : std::runtime_error {
    int code;
    coded_error(int code, const std::string &message) : std::runtime_error(message), code(code) {}
};

inline std::string what_of(const std::exception &e) { return e.what(); }

/// Runs `body` (which returns 0, or an error code it has reported through `fail`) and turns any exception into an
/// error: a `coded_error` keeps its code, any other exception gets `code`; the message is "context: what" (what
/// alone without a context). `describe` words an exception (a library whose what() carries a backtrace).
template <typename Body, typename Describe = std::string (*)(const std::exception &)>
int guarded(curate_error *err, int code, const char *context, Body &&body, Describe describe = what_of) {
    auto said = [&](const std::string &what) { return context ? std::string(context) + ": " + what : what; };
    try {
        int rc = body();
        if (rc == 0) ok(err);
        return rc;
    } catch (const coded_error &e) {
        return fail(err, e.code, said(e.what()));
    } catch (const std::exception &e) {
        return fail(err, code, said(describe(e)));
    } catch (...) {
        return fail(err, code, said("unknown error"));
    }
}

}  // namespace curate
#endif
#endif
