/* Thin, synchronous wrappers over the bpf(2) commands that act on file
 * descriptors: maps, pins, object info, links, XDP attach and test runs.
 * Each is one syscall (a few microseconds), so they run on the JS thread;
 * long test runs have an async twin on the thread pool. */
#include "addon.h"
#include "args.h"
#include "errors.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <algorithm>
#include <vector>
#include <unistd.h>

namespace vipd
{

/* What the kernel reads from and writes to the buffers of a call on a map:
 * key_size bytes per key, and per value value_size bytes, or, for a per-CPU
 * map, value_size rounded up to 8 for every possible CPU. Read from the
 * map itself, so a buffer JavaScript made too short is a TypeError instead
 * of a kernel write past its end. */
struct MapShape {
	size_t key;
	size_t value;
};

static bool IsPerCpu(__u32 type)
{
	return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       type == BPF_MAP_TYPE_LRU_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

static MapShape ShapeOf(Napi::Env env, int fd)
{
	struct bpf_map_info mi;
	__u32 len = sizeof(mi);

	memset(&mi, 0, sizeof(mi));
	if (bpf_obj_get_info_by_fd(fd, &mi, &len))
		throw ErrnoError(env, "bpf_obj_get_info_by_fd", errno, "not a map fd?");
	MapShape shape = {mi.key_size, mi.value_size};
	if (IsPerCpu(mi.type)) {
		int cpus = libbpf_num_possible_cpus();
		if (cpus < 0)
			throw ErrnoError(env, "libbpf_num_possible_cpus", -cpus);
		shape.value = ((shape.value + 7) / 8 * 8) * (size_t)cpus;
	}
	return shape;
}

/* A key argument: a Buffer of the map's key size, or null for a map without
 * keys (queue, stack). */
static uint8_t *KeyArg(const Args &a, size_t i, const MapShape &shape)
{
	if (shape.key == 0 && a.Absent(i))
		return nullptr;
	return a.Buffer(i, "key", shape.key).Data();
}

/* The batch cursor: the kernel reads and writes up to a key (array maps) or
 * a u32 bucket index (hash maps). */
static size_t BatchCursorSize(const MapShape &shape)
{
	return std::max<size_t>(shape.key, 4);
}

/* mapLookup(fd, key|null, value, flags?) -> found */
static Napi::Value MapLookup(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Args a(info, "mapLookup");
	int fd = a.Fd(0);
	MapShape shape = ShapeOf(env, fd);
	uint8_t *key = KeyArg(a, 1, shape);
	uint8_t *value = a.Buffer(2, "value", shape.value).Data();
	if (bpf_map_lookup_elem_flags(fd, key, value, a.U64Opt(3, "flags"))) {
		if (errno == ENOENT)
			return Napi::Boolean::New(env, false);
		throw ErrnoError(env, "bpf_map_lookup_elem", errno);
	}
	return Napi::Boolean::New(env, true);
}

/* mapUpdate(fd, key|null, value, flags?) */
static Napi::Value MapUpdate(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Args a(info, "mapUpdate");
	int fd = a.Fd(0);
	MapShape shape = ShapeOf(env, fd);
	uint8_t *key = KeyArg(a, 1, shape);
	uint8_t *value = a.Buffer(2, "value", shape.value).Data();
	if (bpf_map_update_elem(fd, key, value, a.U64Opt(3, "flags")))
		throw ErrnoError(env, "bpf_map_update_elem", errno);
	return env.Undefined();
}

/* mapDelete(fd, key) -> deleted */
static Napi::Value MapDelete(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Args a(info, "mapDelete");
	int fd = a.Fd(0);
	MapShape shape = ShapeOf(env, fd);
	if (bpf_map_delete_elem(fd, KeyArg(a, 1, shape))) {
		if (errno == ENOENT)
			return Napi::Boolean::New(env, false);
		throw ErrnoError(env, "bpf_map_delete_elem", errno);
	}
	return Napi::Boolean::New(env, true);
}

/* mapGetNextKey(fd, key|null, next) -> more; a null key asks for the first. */
static Napi::Value MapGetNextKey(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Args a(info, "mapGetNextKey");
	int fd = a.Fd(0);
	MapShape shape = ShapeOf(env, fd);
	uint8_t *key = a.BufferOrNull(1, "key", shape.key);
	uint8_t *next = a.Buffer(2, "next", shape.key).Data();
	if (bpf_map_get_next_key(fd, key, next)) {
		if (errno == ENOENT)
			return Napi::Boolean::New(env, false);
		throw ErrnoError(env, "bpf_map_get_next_key", errno);
	}
	return Napi::Boolean::New(env, true);
}

/* mapLookupBatch(fd, inBatch|null, outBatch, keys, values, count, andDelete) -> {count, done} */
static Napi::Value MapLookupBatch(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Args a(info, "mapLookupBatch");
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	int fd = a.Fd(0);
	MapShape shape = ShapeOf(env, fd);
	__u32 count = a.U32(5, "count");
	uint8_t *in_batch = a.BufferOrNull(1, "inBatch", BatchCursorSize(shape));
	uint8_t *out_batch = a.Buffer(2, "outBatch", BatchCursorSize(shape)).Data();
	uint8_t *keys = a.Buffer(3, "keys", shape.key * count).Data();
	uint8_t *values = a.Buffer(4, "values", shape.value * count).Data();
	bool and_delete = a.BoolOpt(6, "andDelete");
	int err;

	if (and_delete)
		err = bpf_map_lookup_and_delete_batch(fd, in_batch, out_batch, keys, values, &count,
						      &opts);
	else
		err = bpf_map_lookup_batch(fd, in_batch, out_batch, keys, values, &count, &opts);
	bool done = false;
	if (err) {
		if (errno != ENOENT)
			throw ErrnoError(env,
					 and_delete ? "bpf_map_lookup_and_delete_batch"
						    : "bpf_map_lookup_batch",
					 errno);
		done = true; /* ENOENT: the last batch, count says how many it held */
	}
	Napi::Object out = Napi::Object::New(env);
	out.Set("count", (double)count);
	out.Set("done", done);
	return out;
}

/* mapUpdateBatch(fd, keys, values, count, flags?) -> entries written */
static Napi::Value MapUpdateBatch(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Args a(info, "mapUpdateBatch");
	int fd = a.Fd(0);
	MapShape shape = ShapeOf(env, fd);
	__u32 count = a.U32(3, "count");
	uint8_t *keys = a.Buffer(1, "keys", shape.key * count).Data();
	uint8_t *values = a.Buffer(2, "values", shape.value * count).Data();
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = a.U64Opt(4, "flags"));
	if (bpf_map_update_batch(fd, keys, values, &count, &opts))
		throw ErrnoError(env, "bpf_map_update_batch", errno,
				 std::to_string(count) + " entries written");
	return Napi::Number::New(env, count);
}

/* mapDeleteBatch(fd, keys, count) -> entries deleted */
static Napi::Value MapDeleteBatch(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Args a(info, "mapDeleteBatch");
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	int fd = a.Fd(0);
	MapShape shape = ShapeOf(env, fd);
	__u32 count = a.U32(2, "count");
	uint8_t *keys = a.Buffer(1, "keys", shape.key * count).Data();
	if (bpf_map_delete_batch(fd, keys, &count, &opts))
		throw ErrnoError(env, "bpf_map_delete_batch", errno,
				 std::to_string(count) + " entries deleted");
	return Napi::Number::New(env, count);
}

static Napi::Value MapFreeze(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (bpf_map_freeze(Args(info, "mapFreeze").Fd(0)))
		throw ErrnoError(env, "bpf_map_freeze", errno);
	return env.Undefined();
}

static Napi::Value ObjPin(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Args a(info, "objPin");
	int fd = a.Fd(0);
	std::string path = a.String(1, "path");
	if (bpf_obj_pin(fd, path.c_str()))
		throw ErrnoError(env, "bpf_obj_pin", errno, path);
	return env.Undefined();
}

static Napi::Value ObjGet(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::string path = Args(info, "objGet").String(0, "path");
	int fd = bpf_obj_get(path.c_str());
	if (fd < 0)
		throw ErrnoError(env, "bpf_obj_get", errno, path);
	return Napi::Number::New(env, fd);
}

static Napi::Value CloseFd(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (close(Args(info, "closeFd").Fd(0)))
		throw ErrnoError(env, "close", errno);
	return env.Undefined();
}

static Napi::Value DupFd(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = fcntl(Args(info, "dupFd").Fd(0), F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		throw ErrnoError(env, "dup", errno);
	return Napi::Number::New(env, fd);
}

static Napi::Value MapInfo(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = Args(info, "mapInfo").Fd(0);
	struct bpf_map_info mi;
	__u32 len = sizeof(mi);
	memset(&mi, 0, sizeof(mi));
	if (bpf_obj_get_info_by_fd(fd, &mi, &len))
		throw ErrnoError(env, "bpf_obj_get_info_by_fd", errno);
	Napi::Object out = Napi::Object::New(env);
	out.Set("type", (double)mi.type);
	out.Set("id", (double)mi.id);
	out.Set("keySize", (double)mi.key_size);
	out.Set("valueSize", (double)mi.value_size);
	out.Set("maxEntries", (double)mi.max_entries);
	out.Set("flags", (double)mi.map_flags);
	out.Set("name", mi.name);
	out.Set("btfId", (double)mi.btf_id);
	return out;
}

static Napi::Value ProgInfo(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = Args(info, "progInfo").Fd(0);
	struct bpf_prog_info pi;
	__u32 len = sizeof(pi);
	memset(&pi, 0, sizeof(pi));
	if (bpf_obj_get_info_by_fd(fd, &pi, &len))
		throw ErrnoError(env, "bpf_obj_get_info_by_fd", errno);
	char tag[2 * BPF_TAG_SIZE + 1];
	for (int i = 0; i < BPF_TAG_SIZE; i++)
		snprintf(tag + 2 * i, 3, "%02x", pi.tag[i]);
	Napi::Object out = Napi::Object::New(env);
	out.Set("type", (double)pi.type);
	out.Set("id", (double)pi.id);
	out.Set("name", pi.name);
	out.Set("tag", tag);
	out.Set("btfId", (double)pi.btf_id);
	out.Set("runCount", (double)pi.run_cnt);
	out.Set("runTimeNs", (double)pi.run_time_ns);
	return out;
}

static Napi::Value LinkInfo(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = Args(info, "linkInfo").Fd(0);
	struct bpf_link_info li;
	__u32 len = sizeof(li);
	memset(&li, 0, sizeof(li));
	if (bpf_obj_get_info_by_fd(fd, &li, &len))
		throw ErrnoError(env, "bpf_obj_get_info_by_fd", errno);
	Napi::Object out = Napi::Object::New(env);
	out.Set("type", (double)li.type);
	out.Set("id", (double)li.id);
	out.Set("progId", (double)li.prog_id);
	if (li.type == BPF_LINK_TYPE_XDP)
		out.Set("ifindex", (double)li.xdp.ifindex);
	return out;
}

static Napi::Value GetFdById(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Args a(info, "getFdById");
	std::string kind = a.String(0, "kind");
	__u32 id = a.U32(1, "id");
	int fd;
	if (kind == "map")
		fd = bpf_map_get_fd_by_id(id);
	else if (kind == "prog")
		fd = bpf_prog_get_fd_by_id(id);
	else if (kind == "link")
		fd = bpf_link_get_fd_by_id(id);
	else
		throw ErrnoError(env, "get_fd_by_id", EINVAL, "kind must be map, prog or link");
	if (fd < 0)
		throw ErrnoError(env, "bpf_" + kind + "_get_fd_by_id", errno,
				 "id " + std::to_string(id));
	return Napi::Number::New(env, fd);
}

/* Test runs: data in, data out (sized by the caller), repeat, flags. */
struct TestRun {
	int fd = -1;
	std::vector<uint8_t> data_in, data_out, ctx_in, ctx_out;
	__u32 repeat = 1, flags = 0, batch_size = 0;
	__u32 retval = 0, duration = 0, data_size_out = 0, ctx_size_out = 0;
	int err = 0;
	/* Count the kernel instructions this thread retires in the syscall:
	 * a per-packet cost that, unlike duration, does not move with the
	 * load of the machine. -1: not asked for, or no counter here. */
	bool count_insns = false;
	long long instructions = -1;

	void Run()
	{
		LIBBPF_OPTS(
		    bpf_test_run_opts, opts, .data_in = data_in.data(), .data_out = data_out.data(),
		    .data_size_in = (__u32)data_in.size(), .data_size_out = (__u32)data_out.size(),
		    .ctx_in = ctx_in.empty() ? nullptr : ctx_in.data(),
		    .ctx_out = ctx_out.empty() ? nullptr : ctx_out.data(),
		    .ctx_size_in = (__u32)ctx_in.size(), .ctx_size_out = (__u32)ctx_out.size(),
		    .repeat = (int)repeat, .flags = flags, .batch_size = batch_size);
		if (data_out.empty())
			opts.data_out = nullptr;
		int counter = count_insns ? OpenInsnCounter() : -1;
		if (counter >= 0)
			ioctl(counter, PERF_EVENT_IOC_ENABLE, 0);
		err = bpf_prog_test_run_opts(fd, &opts) ? errno : 0;
		if (counter >= 0) {
			long long n = -1;
			ioctl(counter, PERF_EVENT_IOC_DISABLE, 0);
			if (read(counter, &n, sizeof(n)) != sizeof(n))
				n = -1;
			instructions = n;
			close(counter);
		}
		retval = opts.retval;
		duration = opts.duration;
		data_size_out = opts.data_size_out;
		ctx_size_out = opts.ctx_size_out;
	}

	/* Instructions retired in kernel mode by the calling thread, from
	 * the moment it is enabled; -1 where the machine has no such counter
	 * (some virtual machines) or perf_event_paranoid forbids it. */
	static int OpenInsnCounter()
	{
		struct perf_event_attr attr = {};

		attr.type = PERF_TYPE_HARDWARE;
		attr.size = sizeof(attr);
		attr.config = PERF_COUNT_HW_INSTRUCTIONS;
		attr.disabled = 1;
		attr.exclude_user = 1;
		attr.exclude_hv = 1;
		return (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	}

	Napi::Object Result(Napi::Env env)
	{
		Napi::Object out = Napi::Object::New(env);
		out.Set("retval", (double)retval);
		if (count_insns)
			out.Set("instructions", (double)instructions);
		out.Set("duration", (double)duration);
		size_t n = std::min<size_t>(data_size_out, data_out.size());
		out.Set("data", Napi::Buffer<uint8_t>::Copy(env, data_out.data(), n));
		if (!ctx_out.empty())
			out.Set("ctx", Napi::Buffer<uint8_t>::Copy(
					   env, ctx_out.data(),
					   std::min<size_t>(ctx_size_out, ctx_out.size())));
		return out;
	}
};

/* progTestRun(fd, {data, dataSizeOut, repeat, flags, ctx, ctxSizeOut, batchSize}) */
static void ParseTestRun(const Args &a, TestRun &run)
{
	run.fd = a.Fd(0);
	Napi::Object o = a.Object(1, "options");
	Napi::Buffer<uint8_t> data = a.OptBuffer(o, "data");
	run.data_in.assign(data.Data(), data.Data() + data.Length());
	Napi::Buffer<uint8_t> ctx = a.OptBuffer(o, "ctx");
	run.ctx_in.assign(ctx.Data(), ctx.Data() + ctx.Length());
	/* Output sizes are allocated here: a cap keeps a typo from asking for gigabytes. */
	const uint32_t max_out = 16u << 20;
	uint32_t data_out = a.OptU32(o, "dataSizeOut", 0);
	uint32_t ctx_out = a.OptU32(o, "ctxSizeOut", 0);
	if (data_out > max_out || ctx_out > max_out)
		throw Napi::RangeError::New(
		    a.Env(), "progTestRun: dataSizeOut and ctxSizeOut are at most 16 MiB");
	run.data_out.resize(data_out);
	run.ctx_out.resize(ctx_out);
	run.repeat = a.OptU32(o, "repeat", 1);
	run.flags = a.OptU32(o, "flags", 0);
	run.batch_size = a.OptU32(o, "batchSize", 0);
	if (a.Has(o, "countInstructions"))
		run.count_insns = o.Get("countInstructions").ToBoolean();
}

static Napi::Value ProgTestRun(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	TestRun run;
	ParseTestRun(Args(info, "progTestRun"), run);
	run.Run();
	if (run.err)
		throw ErrnoError(env, "bpf_prog_test_run", run.err);
	return run.Result(env);
}

class TestRunWorker : public Napi::AsyncWorker
{
      public:
	TestRunWorker(Napi::Env env)
	    : Napi::AsyncWorker(env), deferred(Napi::Promise::Deferred::New(env))
	{
	}
	TestRun run;
	Napi::Promise::Deferred deferred;
	void Execute() override
	{
		run.Run();
	}
	void OnOK() override
	{
		if (run.err)
			deferred.Reject(ErrnoError(Env(), "bpf_prog_test_run", run.err).Value());
		else
			deferred.Resolve(run.Result(Env()));
	}
};

static Napi::Value ProgTestRunAsync(const Napi::CallbackInfo &info)
{
	TestRun run;
	ParseTestRun(Args(info, "progTestRunAsync"), run);
	TestRunWorker *w = new TestRunWorker(info.Env());
	w->run = std::move(run);
	Napi::Promise p = w->deferred.Promise();
	w->Queue();
	return p;
}

/* progTestRunEach(fd, frames, frameSize): one test run per frame of a
 * buffer of equal-sized frames, in order, in one native loop: a million
 * distinct packets (a SYN flood from spoofed sources) run in a second or
 * two instead of a million calls from JavaScript. Returns the return
 * values as a Buffer of native-endian u32s; the frames are not written
 * back. Runs on the calling thread.
 */
static Napi::Value ProgTestRunEach(const Napi::CallbackInfo &info)
{
	Args a(info, "progTestRunEach");
	Napi::Env env = info.Env();
	int fd = a.Fd(0);
	Napi::Buffer<uint8_t> frames = a.Buffer(1, "frames");
	uint32_t size = a.U32(2, "frameSize");

	if (size == 0 || frames.Length() % size)
		throw Napi::RangeError::New(
		    env, "progTestRunEach: frames must hold whole frames of frameSize bytes");
	size_t n = frames.Length() / size;
	Napi::Buffer<uint32_t> out = Napi::Buffer<uint32_t>::New(env, n);
	for (size_t i = 0; i < n; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frames.Data() + i * size,
			    .data_size_in = size, .repeat = 1);
		if (bpf_prog_test_run_opts(fd, &opts))
			throw ErrnoError(env, "bpf_prog_test_run", errno,
					 "frame " + std::to_string(i));
		out.Data()[i] = opts.retval;
	}
	return out;
}

/* XDP through a bpf_link (kernel 5.9+): the attachment is an fd that can be
 * pinned, updated atomically, and that detaches when its last reference goes. */
static Napi::Value XdpLinkCreate(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Args a(info, "xdpLinkCreate");
	int prog_fd = a.Fd(0, "progFd");
	int ifindex = a.I32(1, "ifindex");
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = a.U32(2, "flags"));
	int fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
	if (fd < 0)
		throw ErrnoError(env, "bpf_link_create", errno);
	return Napi::Number::New(env, fd);
}

static Napi::Value LinkUpdate(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Args a(info, "linkUpdate");
	int link_fd = a.Fd(0, "linkFd");
	int prog_fd = a.Fd(1, "newProgFd");
	int old_fd = a.Absent(2) ? 0 : a.Fd(2, "oldProgFd");
	LIBBPF_OPTS(bpf_link_update_opts, opts, .flags = (__u32)(old_fd > 0 ? BPF_F_REPLACE : 0),
		    .old_prog_fd = (__u32)old_fd);
	if (bpf_link_update(link_fd, prog_fd, &opts))
		throw ErrnoError(env, "bpf_link_update", errno);
	return env.Undefined();
}

static Napi::Value LinkDetach(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (bpf_link_detach(Args(info, "linkDetach").Fd(0, "linkFd")))
		throw ErrnoError(env, "bpf_link_detach", errno);
	return env.Undefined();
}

/* Netlink attach: the fallback for kernels without XDP links. */
static Napi::Value XdpAttach(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Args a(info, "xdpAttach");
	int ifindex = a.I32(0, "ifindex");
	int prog_fd = a.Fd(1, "progFd");
	__u32 flags = a.U32(2, "flags");
	int old_fd = a.Absent(3) ? -1 : a.Fd(3, "oldProgFd");
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = old_fd);
	if (old_fd >= 0)
		flags |= XDP_FLAGS_REPLACE;
	int err = bpf_xdp_attach(ifindex, prog_fd, flags, &opts);
	if (err)
		throw ErrnoError(env, "bpf_xdp_attach", -err);
	return env.Undefined();
}

static Napi::Value XdpDetach(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Args a(info, "xdpDetach");
	int ifindex = a.I32(0, "ifindex");
	int err = bpf_xdp_detach(ifindex, a.U32(1, "flags"), nullptr);
	if (err)
		throw ErrnoError(env, "bpf_xdp_detach", -err);
	return env.Undefined();
}

static Napi::Value XdpQuery(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	LIBBPF_OPTS(bpf_xdp_query_opts, opts);
	int err = bpf_xdp_query(Args(info, "xdpQuery").I32(0, "ifindex"), 0, &opts);
	if (err)
		throw ErrnoError(env, "bpf_xdp_query", -err);
	Napi::Object out = Napi::Object::New(env);
	out.Set("progId", (double)opts.prog_id);
	out.Set("drvProgId", (double)opts.drv_prog_id);
	out.Set("skbProgId", (double)opts.skb_prog_id);
	out.Set("hwProgId", (double)opts.hw_prog_id);
	out.Set("attachMode", (double)opts.attach_mode);
	return out;
}

static Napi::Value NumPossibleCpus(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int n = libbpf_num_possible_cpus();
	if (n < 0)
		throw ErrnoError(env, "libbpf_num_possible_cpus", -n);
	return Napi::Number::New(env, n);
}

void InitBpfOps(Napi::Env env, Napi::Object exports)
{
	exports.Set("mapLookup", Napi::Function::New(env, MapLookup));
	exports.Set("mapUpdate", Napi::Function::New(env, MapUpdate));
	exports.Set("mapDelete", Napi::Function::New(env, MapDelete));
	exports.Set("mapGetNextKey", Napi::Function::New(env, MapGetNextKey));
	exports.Set("mapLookupBatch", Napi::Function::New(env, MapLookupBatch));
	exports.Set("mapUpdateBatch", Napi::Function::New(env, MapUpdateBatch));
	exports.Set("mapDeleteBatch", Napi::Function::New(env, MapDeleteBatch));
	exports.Set("mapFreeze", Napi::Function::New(env, MapFreeze));
	exports.Set("objPin", Napi::Function::New(env, ObjPin));
	exports.Set("objGet", Napi::Function::New(env, ObjGet));
	exports.Set("closeFd", Napi::Function::New(env, CloseFd));
	exports.Set("dupFd", Napi::Function::New(env, DupFd));
	exports.Set("mapInfo", Napi::Function::New(env, MapInfo));
	exports.Set("progInfo", Napi::Function::New(env, ProgInfo));
	exports.Set("linkInfo", Napi::Function::New(env, LinkInfo));
	exports.Set("getFdById", Napi::Function::New(env, GetFdById));
	exports.Set("progTestRun", Napi::Function::New(env, ProgTestRun));
	exports.Set("progTestRunAsync", Napi::Function::New(env, ProgTestRunAsync));
	exports.Set("progTestRunEach", Napi::Function::New(env, ProgTestRunEach));
	exports.Set("xdpLinkCreate", Napi::Function::New(env, XdpLinkCreate));
	exports.Set("linkUpdate", Napi::Function::New(env, LinkUpdate));
	exports.Set("linkDetach", Napi::Function::New(env, LinkDetach));
	exports.Set("xdpAttach", Napi::Function::New(env, XdpAttach));
	exports.Set("xdpDetach", Napi::Function::New(env, XdpDetach));
	exports.Set("xdpQuery", Napi::Function::New(env, XdpQuery));
	exports.Set("numPossibleCpus", Napi::Function::New(env, NumPossibleCpus));
}

} // namespace vipd
