/* Errors thrown into JavaScript carry the errno name as `code`, the number as
 * `errno` and the failing operation as `syscall`, so src/bpf can map them to
 * typed error classes without parsing messages. */
#pragma once
#include <napi.h>
#include <string>

namespace vipd
{

/* Builds (does not throw) an Error for a failed operation. err is a positive errno. */
Napi::Error ErrnoError(Napi::Env env, const std::string &op, int err,
		       const std::string &detail = "");

/* Name of an errno value ("EPERM"), or "E<number>" when unknown. */
const char *ErrnoName(int err);

} // namespace vipd
