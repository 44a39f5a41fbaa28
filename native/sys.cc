/* Small system helpers: interface names and indexes, bpffs (is a path one,
 * mount one) and a lock on a directory for the BPF layer, and the peer of
 * a Unix socket for the control socket's audit trail. */
#include "addon.h"
#include "args.h"
#include "errors.h"

#include <cerrno>
#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <unistd.h>

namespace vipd
{

static Napi::Value IfNameToIndex(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::string name = Args(info, "ifNameToIndex").String(0, "name");
	unsigned idx = if_nametoindex(name.c_str());
	if (!idx)
		throw ErrnoError(env, "if_nametoindex", errno == 0 ? ENODEV : errno,
				 "interface '" + name + "'");
	return Napi::Number::New(env, idx);
}

static Napi::Value IfIndexToName(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	char name[IF_NAMESIZE];
	unsigned idx = Args(info, "ifIndexToName").U32(0, "index");
	if (!if_indextoname(idx, name))
		throw ErrnoError(env, "if_indextoname", errno, "ifindex " + std::to_string(idx));
	return Napi::String::New(env, name);
}

static Napi::Value IsBpffs(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::string path = Args(info, "isBpffs").String(0, "path");
	struct statfs st;
	if (statfs(path.c_str(), &st)) {
		if (errno == ENOENT)
			return Napi::Boolean::New(env, false);
		throw ErrnoError(env, "statfs", errno, path);
	}
	return Napi::Boolean::New(env, (unsigned long)st.f_type == BPF_FS_MAGIC);
}

static Napi::Value MountBpffs(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::string path = Args(info, "mountBpffs").String(0, "path");
	if (mount("bpf", path.c_str(), "bpf", 0, "mode=0700"))
		throw ErrnoError(env, "mount", errno, "bpffs at " + path);
	return env.Undefined();
}

static Napi::Value Unmount(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::string path = Args(info, "unmount").String(0, "path");
	if (umount2(path.c_str(), MNT_DETACH))
		throw ErrnoError(env, "umount", errno, path);
	return env.Undefined();
}

/* lockDir(path) -> fd: an exclusive flock on the directory itself (a
 * bpffs holds no regular files to lock). Non-blocking: EWOULDBLOCK when
 * another open file holds it. The fd is close-on-exec, so no child keeps
 * the lock, and the kernel drops the lock when the fd closes, however the
 * process ends. */
static Napi::Value LockDir(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::string path = Args(info, "lockDir").String(0, "path");
	int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		throw ErrnoError(env, "open", errno, path);
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int err = errno;
		close(fd);
		throw ErrnoError(env, "flock", err, path);
	}
	return Napi::Number::New(env, fd);
}

/* SO_PEERCRED of a connected Unix socket: who connected (the credentials
 * at connect(2) time). Node has no API for it. */
static Napi::Value PeerCredentials(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = Args(info, "peerCredentials").Fd(0, "fd");
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
		throw ErrnoError(env, "getsockopt", errno,
				 "SO_PEERCRED of fd " + std::to_string(fd));
	Napi::Object out = Napi::Object::New(env);
	out.Set("pid", Napi::Number::New(env, cred.pid));
	out.Set("uid", Napi::Number::New(env, cred.uid));
	out.Set("gid", Napi::Number::New(env, cred.gid));
	return out;
}

void InitSys(Napi::Env env, Napi::Object exports)
{
	exports.Set("ifNameToIndex", Napi::Function::New(env, IfNameToIndex));
	exports.Set("ifIndexToName", Napi::Function::New(env, IfIndexToName));
	exports.Set("isBpffs", Napi::Function::New(env, IsBpffs));
	exports.Set("mountBpffs", Napi::Function::New(env, MountBpffs));
	exports.Set("unmount", Napi::Function::New(env, Unmount));
	exports.Set("lockDir", Napi::Function::New(env, LockDir));
	exports.Set("peerCredentials", Napi::Function::New(env, PeerCredentials));
}

} // namespace vipd
