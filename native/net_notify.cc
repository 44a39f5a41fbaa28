/* sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET. A path
 * starting with '@' is an abstract socket. */
#include "errors.h"
#include "net_util.h"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace vipd
{

/* sdNotify(socketPath, message): sends message; throws on failure. */
static Napi::Value SdNotify(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::string path = info[0].As<Napi::String>();
	std::string msg = info[1].As<Napi::String>();
	struct sockaddr_un sun = {};
	sun.sun_family = AF_UNIX;
	if (path.empty() || (path[0] != '/' && path[0] != '@'))
		throw Napi::TypeError::New(
		    env, "NOTIFY_SOCKET must be an absolute path or start with @");
	if (path.size() >= sizeof(sun.sun_path))
		throw ErrnoError(env, "sd_notify", ENAMETOOLONG, path);
	memcpy(sun.sun_path, path.data(), path.size());
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path.size());
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	else
		len++;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		throw ErrnoError(env, "socket", errno, "AF_UNIX");
	ssize_t n = sendto(fd, msg.data(), msg.size(), MSG_NOSIGNAL, (struct sockaddr *)&sun, len);
	int err = errno;
	close(fd);
	if (n < 0)
		throw ErrnoError(env, "sendto", err, "NOTIFY_SOCKET " + path);
	return env.Undefined();
}

void InitNetNotify(Napi::Env env, Napi::Object exports)
{
	exports.Set("sdNotify", Napi::Function::New(env, SdNotify));
}

} // namespace vipd
