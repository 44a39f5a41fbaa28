/* BpfObject: a libbpf object opened from an ELF file. Between open and load
 * its map sizes, pin paths and data sections (const volatile settings) can be
 * edited; load() runs on the libuv thread pool so the verifier never blocks
 * the event loop, and a rejection carries libbpf's log with the verifier's. */
#include "addon.h"
#include "args.h"
#include "errors.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <string>
#include <unistd.h>

namespace vipd
{

/* libbpf prints through one global callback; a load captures what its own
 * thread prints (the verifier log among it) and drops everything else unless
 * VIPD_LIBBPF_DEBUG is set. */
static thread_local std::string *capture_buf;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	char line[4096];

	if (!capture_buf && !getenv("VIPD_LIBBPF_DEBUG"))
		return 0;
	if (level == LIBBPF_DEBUG && !getenv("VIPD_LIBBPF_DEBUG"))
		return 0;
	int n = vsnprintf(line, sizeof(line), fmt, args);
	if (capture_buf) {
		/* The verifier log of a big program can be megabytes: keep the tail, which names
		 * the fault. */
		if (capture_buf->size() > (4u << 20))
			capture_buf->erase(0, capture_buf->size() - (2u << 20));
		capture_buf->append(line);
	} else {
		fputs(line, stderr);
	}
	return n;
}

class BpfObject : public Napi::ObjectWrap<BpfObject>
{
      public:
	static Napi::Function Define(Napi::Env env);
	explicit BpfObject(const Napi::CallbackInfo &info);
	~BpfObject() override;

	struct bpf_object *obj = nullptr;
	bool loading = false;
	bool loaded = false;

      private:
	Napi::Value Maps(const Napi::CallbackInfo &info);
	Napi::Value Programs(const Napi::CallbackInfo &info);
	Napi::Value SetMaxEntries(const Napi::CallbackInfo &info);
	Napi::Value SetPinPath(const Napi::CallbackInfo &info);
	Napi::Value InitialValue(const Napi::CallbackInfo &info);
	Napi::Value SetInitialValue(const Napi::CallbackInfo &info);
	Napi::Value SetAutoload(const Napi::CallbackInfo &info);
	Napi::Value Load(const Napi::CallbackInfo &info);
	Napi::Value MapFd(const Napi::CallbackInfo &info);
	Napi::Value ProgFd(const Napi::CallbackInfo &info);
	Napi::Value Close(const Napi::CallbackInfo &info);

	struct bpf_object *Live(Napi::Env env);
	struct bpf_map *FindMap(Napi::Env env, const std::string &name);
	struct bpf_program *FindProg(Napi::Env env, const std::string &name);
};

class LoadWorker : public Napi::AsyncWorker
{
      public:
	LoadWorker(Napi::Env env, BpfObject *owner, Napi::Object keep)
	    : Napi::AsyncWorker(env), owner(owner), deferred(Napi::Promise::Deferred::New(env))
	{
		self.Reset(keep, 1);
	}
	Napi::Promise Promise()
	{
		return deferred.Promise();
	}

	void Execute() override
	{
		capture_buf = &log;
		err = bpf_object__load(owner->obj);
		capture_buf = nullptr;
	}
	void OnOK() override
	{
		Napi::Env env = Env();
		owner->loading = false;
		if (err) {
			Napi::Error e = ErrnoError(env, "bpf_object__load", -err,
						   "the kernel refused the object (see .log)");
			e.Set("log", Napi::String::New(env, log));
			deferred.Reject(e.Value());
		} else {
			owner->loaded = true;
			deferred.Resolve(Napi::String::New(env, log));
		}
		self.Reset();
	}

      private:
	BpfObject *owner;
	Napi::Promise::Deferred deferred;
	Napi::ObjectReference self;
	std::string log;
	int err = 0;
};

Napi::Function BpfObject::Define(Napi::Env env)
{
	return DefineClass(env, "BpfObject",
			   {
			       InstanceMethod("maps", &BpfObject::Maps),
			       InstanceMethod("programs", &BpfObject::Programs),
			       InstanceMethod("setMaxEntries", &BpfObject::SetMaxEntries),
			       InstanceMethod("setPinPath", &BpfObject::SetPinPath),
			       InstanceMethod("initialValue", &BpfObject::InitialValue),
			       InstanceMethod("setInitialValue", &BpfObject::SetInitialValue),
			       InstanceMethod("setAutoload", &BpfObject::SetAutoload),
			       InstanceMethod("load", &BpfObject::Load),
			       InstanceMethod("mapFd", &BpfObject::MapFd),
			       InstanceMethod("progFd", &BpfObject::ProgFd),
			       InstanceMethod("close", &BpfObject::Close),
			   });
}

BpfObject::BpfObject(const Napi::CallbackInfo &info) : Napi::ObjectWrap<BpfObject>(info)
{
	Napi::Env env = info.Env();
	std::string path = Args(info, "BpfObject").String(0, "path");
	std::string log;

	capture_buf = &log;
	obj = bpf_object__open_file(path.c_str(), nullptr);
	capture_buf = nullptr;
	if (!obj) {
		int err = errno;
		obj = nullptr;
		Napi::Error e = ErrnoError(env, "bpf_object__open_file", err, path);
		e.Set("log", Napi::String::New(env, log));
		throw e;
	}
}

BpfObject::~BpfObject()
{
	/* A load in flight holds a reference to this wrapper, so it never gets here mid-load. */
	if (obj)
		bpf_object__close(obj);
}

struct bpf_object *BpfObject::Live(Napi::Env env)
{
	if (!obj)
		throw ErrnoError(env, "bpf_object", EBADF, "object is closed");
	if (loading)
		throw ErrnoError(env, "bpf_object", EBUSY, "object is being loaded");
	return obj;
}

struct bpf_map *BpfObject::FindMap(Napi::Env env, const std::string &name)
{
	struct bpf_map *map = bpf_object__find_map_by_name(Live(env), name.c_str());
	if (!map)
		throw ErrnoError(env, "bpf_object__find_map_by_name", ENOENT,
				 "no map named '" + name + "'");
	return map;
}

struct bpf_program *BpfObject::FindProg(Napi::Env env, const std::string &name)
{
	struct bpf_program *prog = bpf_object__find_program_by_name(Live(env), name.c_str());
	if (!prog)
		throw ErrnoError(env, "bpf_object__find_program_by_name", ENOENT,
				 "no program named '" + name + "'");
	return prog;
}

Napi::Value BpfObject::Maps(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Napi::Array out = Napi::Array::New(env);
	struct bpf_map *map;
	uint32_t i = 0;

	bpf_object__for_each_map(map, Live(env))
	{
		Napi::Object m = Napi::Object::New(env);
		m.Set("name", bpf_map__name(map));
		m.Set("type", (double)bpf_map__type(map));
		m.Set("keySize", (double)bpf_map__key_size(map));
		m.Set("valueSize", (double)bpf_map__value_size(map));
		m.Set("maxEntries", (double)bpf_map__max_entries(map));
		m.Set("flags", (double)bpf_map__map_flags(map));
		m.Set("internal", bpf_map__is_internal(map));
		const char *pin = bpf_map__pin_path(map);
		if (pin)
			m.Set("pinPath", pin);
		out.Set(i++, m);
	}
	return out;
}

Napi::Value BpfObject::Programs(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Napi::Array out = Napi::Array::New(env);
	struct bpf_program *prog;
	uint32_t i = 0;

	bpf_object__for_each_program(prog, Live(env))
	{
		Napi::Object p = Napi::Object::New(env);
		p.Set("name", bpf_program__name(prog));
		p.Set("section", bpf_program__section_name(prog));
		p.Set("type", (double)bpf_program__type(prog));
		p.Set("autoload", bpf_program__autoload(prog));
		out.Set(i++, p);
	}
	return out;
}

Napi::Value BpfObject::SetMaxEntries(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Args a(info, "setMaxEntries");
	std::string name = a.String(0, "map");
	uint32_t n = a.U32(1, "maxEntries");
	int err = bpf_map__set_max_entries(FindMap(env, name), n);
	if (err)
		throw ErrnoError(env, "bpf_map__set_max_entries", -err);
	return env.Undefined();
}

Napi::Value BpfObject::SetPinPath(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Args a(info, "setPinPath");
	std::string name = a.String(0, "map");
	std::string path = a.Absent(1) ? "" : a.String(1, "path");
	struct bpf_map *map = FindMap(env, name);
	int err = bpf_map__set_pin_path(map, path.empty() ? nullptr : path.c_str());
	if (err)
		throw ErrnoError(env, "bpf_map__set_pin_path", -err);
	return env.Undefined();
}

Napi::Value BpfObject::InitialValue(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct bpf_map *map = FindMap(env, Args(info, "initialValue").String(0, "map"));
	size_t size = 0;
	const void *data = bpf_map__initial_value(map, &size);
	if (!data)
		throw ErrnoError(env, "bpf_map__initial_value", EINVAL,
				 "map has no initial value (not a data section)");
	return Napi::Buffer<uint8_t>::Copy(env, (const uint8_t *)data, size);
}

Napi::Value BpfObject::SetInitialValue(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Args a(info, "setInitialValue");
	std::string name = a.String(0, "map");
	Napi::Buffer<uint8_t> buf = a.Buffer(1, "data");
	struct bpf_map *map = FindMap(env, name);
	int err = bpf_map__set_initial_value(map, buf.Data(), buf.Length());
	if (err)
		throw ErrnoError(env, "bpf_map__set_initial_value", -err,
				 "size must match the section");
	return env.Undefined();
}

Napi::Value BpfObject::SetAutoload(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Args a(info, "setAutoload");
	std::string name = a.String(0, "program");
	bool on = a.Bool(1, "on");
	int err = bpf_program__set_autoload(FindProg(env, name), on);
	if (err)
		throw ErrnoError(env, "bpf_program__set_autoload", -err);
	return env.Undefined();
}

Napi::Value BpfObject::Load(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Live(env);
	if (loaded)
		throw ErrnoError(env, "bpf_object__load", EALREADY, "object is already loaded");
	loading = true;
	LoadWorker *worker = new LoadWorker(env, this, info.This().As<Napi::Object>());
	Napi::Promise promise = worker->Promise();
	worker->Queue();
	return promise;
}

Napi::Value BpfObject::MapFd(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = bpf_map__fd(FindMap(env, Args(info, "mapFd").String(0, "map")));
	if (fd < 0)
		throw ErrnoError(env, "bpf_map__fd", EINVAL, "map is not loaded");
	return Napi::Number::New(env, fd);
}

Napi::Value BpfObject::ProgFd(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = bpf_program__fd(FindProg(env, Args(info, "progFd").String(0, "program")));
	if (fd < 0)
		throw ErrnoError(env, "bpf_program__fd", EINVAL, "program is not loaded");
	return Napi::Number::New(env, fd);
}

Napi::Value BpfObject::Close(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (loading)
		throw ErrnoError(env, "bpf_object__close", EBUSY, "object is being loaded");
	if (obj) {
		bpf_object__close(obj);
		obj = nullptr;
	}
	return env.Undefined();
}

void InitBpfObject(Napi::Env env, Napi::Object exports)
{
	libbpf_set_print(libbpf_print);
	exports.Set("BpfObject", BpfObject::Define(env));
}

} // namespace vipd
