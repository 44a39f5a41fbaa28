/* Shared mappings of mmapable BPF arrays (BPF_F_MMAPABLE): the daemon
 * writes a whole Maglev ring through one, with no syscall per slot.
 *
 * mapMmap(fd, bytes) returns an ArrayBuffer over the map's memory;
 * mapMunmap(buffer) unmaps it at once and detaches the buffer, so a stale
 * view throws instead of touching freed memory. A mapping nobody unmapped
 * is unmapped when the buffer is collected. */
#include "addon.h"
#include "errors.h"

#include <cerrno>
#include <sys/mman.h>
#include <unordered_map>

namespace vipd
{

/* Live mappings by address: munmap() needs the length, and a buffer must
 * be unmapped once, by mapMunmap() or by the collector, whichever is first.
 * Only the JS thread touches it. */
static std::unordered_map<void *, size_t> live_mappings;

static void Unmap(void *addr)
{
	auto it = live_mappings.find(addr);
	if (it == live_mappings.end())
		return;
	munmap(it->first, it->second);
	live_mappings.erase(it);
}

static Napi::Value MapMmap(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber())
		throw Napi::TypeError::New(env, "mapMmap(fd: number, bytes: number)");
	int fd = info[0].As<Napi::Number>().Int32Value();
	double bytes = info[1].As<Napi::Number>().DoubleValue();
	if (fd < 0 || bytes <= 0 || bytes > (double)SIZE_MAX)
		throw Napi::RangeError::New(env, "mapMmap: bad fd or length");
	size_t len = (size_t)bytes;
	void *addr = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (addr == MAP_FAILED)
		throw ErrnoError(env, "mmap", errno, "a BPF map (is it BPF_F_MMAPABLE?)");
	live_mappings.emplace(addr, len);
	return Napi::ArrayBuffer::New(env, addr, len, [](Napi::Env, void *data) { Unmap(data); });
}

static Napi::Value MapMunmap(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (info.Length() < 1 || !info[0].IsArrayBuffer())
		throw Napi::TypeError::New(env, "mapMunmap(buffer: ArrayBuffer)");
	Napi::ArrayBuffer buffer = info[0].As<Napi::ArrayBuffer>();
	void *addr = buffer.Data();
	if (addr == nullptr || live_mappings.find(addr) == live_mappings.end())
		return env.Undefined();
	buffer.Detach();
	Unmap(addr);
	return env.Undefined();
}

void InitBpfMmap(Napi::Env env, Napi::Object exports)
{
	exports.Set("mapMmap", Napi::Function::New(env, MapMmap));
	exports.Set("mapMunmap", Napi::Function::New(env, MapMunmap));
}

} // namespace vipd
