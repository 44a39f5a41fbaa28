#include "errors.h"

#include <cerrno>
#include <cstring>

namespace vipd
{

const char *ErrnoName(int err)
{
	switch (err) {
	case EPERM:
		return "EPERM";
	case ENOENT:
		return "ENOENT";
	case ESRCH:
		return "ESRCH";
	case EINTR:
		return "EINTR";
	case EIO:
		return "EIO";
	case E2BIG:
		return "E2BIG";
	case EBADF:
		return "EBADF";
	case EAGAIN:
		return "EAGAIN";
	case ENOMEM:
		return "ENOMEM";
	case EACCES:
		return "EACCES";
	case EFAULT:
		return "EFAULT";
	case EBUSY:
		return "EBUSY";
	case EEXIST:
		return "EEXIST";
	case ENODEV:
		return "ENODEV";
	case ENOTDIR:
		return "ENOTDIR";
	case EINVAL:
		return "EINVAL";
	case ENOSPC:
		return "ENOSPC";
	case ERANGE:
		return "ERANGE";
	case ENOSYS:
		return "ENOSYS";
	case ENOTSUP:
		return "EOPNOTSUPP";
	case EADDRNOTAVAIL:
		return "EADDRNOTAVAIL";
	case ENETDOWN:
		return "ENETDOWN";
	case ENXIO:
		return "ENXIO";
	case ELOOP:
		return "ELOOP";
	case ENOTSOCK:
		return "ENOTSOCK";
	case EADDRINUSE:
		return "EADDRINUSE";
	case EPROTO:
		return "EPROTO";
	case ENOTEMPTY:
		return "ENOTEMPTY";
	case ENAMETOOLONG:
		return "ENAMETOOLONG";
	default:
		return nullptr;
	}
}

Napi::Error ErrnoError(Napi::Env env, const std::string &op, int err, const std::string &detail)
{
	if (err < 0)
		err = -err;
	const char *name = ErrnoName(err);
	std::string code = name ? name : "E" + std::to_string(err);
	std::string msg = op + ": " + strerror(err) + " (" + code + ")";
	if (!detail.empty())
		msg += ": " + detail;
	Napi::Error e = Napi::Error::New(env, msg);
	e.Set("code", Napi::String::New(env, code));
	e.Set("errno", Napi::Number::New(env, err));
	e.Set("syscall", Napi::String::New(env, op));
	return e;
}

} // namespace vipd
