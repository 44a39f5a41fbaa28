/* Thin, synchronous wrappers over the bpf(2) commands that act on file
 * descriptors: maps, pins, object info, links, XDP attach and test runs.
 * Each is one syscall (a few microseconds), so they run on the JS thread;
 * long test runs have an async twin on the thread pool. */
#include "addon.h"
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
#include <vector>
#include <unistd.h>

namespace vipd
{

static int ArgFd(const Napi::CallbackInfo &info, size_t i)
{
	return info[i].As<Napi::Number>().Int32Value();
}

static uint8_t *BufArg(const Napi::CallbackInfo &info, size_t i)
{
	if (i >= info.Length() || info[i].IsNull() || info[i].IsUndefined())
		return nullptr;
	return info[i].As<Napi::Buffer<uint8_t>>().Data();
}

static uint64_t U64Arg(const Napi::CallbackInfo &info, size_t i)
{
	if (i >= info.Length() || info[i].IsUndefined())
		return 0;
	if (info[i].IsBigInt()) {
		bool lossless;
		return info[i].As<Napi::BigInt>().Uint64Value(&lossless);
	}
	return (uint64_t)info[i].As<Napi::Number>().Int64Value();
}

static Napi::Value MapLookup(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int err = bpf_map_lookup_elem_flags(ArgFd(info, 0), BufArg(info, 1), BufArg(info, 2),
					    U64Arg(info, 3));
	if (err) {
		if (errno == ENOENT)
			return Napi::Boolean::New(env, false);
		throw ErrnoError(env, "bpf_map_lookup_elem", errno);
	}
	return Napi::Boolean::New(env, true);
}

static Napi::Value MapUpdate(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (bpf_map_update_elem(ArgFd(info, 0), BufArg(info, 1), BufArg(info, 2), U64Arg(info, 3)))
		throw ErrnoError(env, "bpf_map_update_elem", errno);
	return env.Undefined();
}

static Napi::Value MapDelete(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (bpf_map_delete_elem(ArgFd(info, 0), BufArg(info, 1))) {
		if (errno == ENOENT)
			return Napi::Boolean::New(env, false);
		throw ErrnoError(env, "bpf_map_delete_elem", errno);
	}
	return Napi::Boolean::New(env, true);
}

static Napi::Value MapGetNextKey(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (bpf_map_get_next_key(ArgFd(info, 0), BufArg(info, 1), BufArg(info, 2))) {
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
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 count = info[5].As<Napi::Number>().Uint32Value();
	bool and_delete = info.Length() > 6 && info[6].ToBoolean();
	int err;

	if (and_delete)
		err = bpf_map_lookup_and_delete_batch(ArgFd(info, 0), BufArg(info, 1),
						      BufArg(info, 2), BufArg(info, 3),
						      BufArg(info, 4), &count, &opts);
	else
		err = bpf_map_lookup_batch(ArgFd(info, 0), BufArg(info, 1), BufArg(info, 2),
					   BufArg(info, 3), BufArg(info, 4), &count, &opts);
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

static Napi::Value MapUpdateBatch(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = U64Arg(info, 4));
	__u32 count = info[3].As<Napi::Number>().Uint32Value();
	if (bpf_map_update_batch(ArgFd(info, 0), BufArg(info, 1), BufArg(info, 2), &count, &opts))
		throw ErrnoError(env, "bpf_map_update_batch", errno,
				 std::to_string(count) + " entries written");
	return Napi::Number::New(env, count);
}

static Napi::Value MapDeleteBatch(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 count = info[2].As<Napi::Number>().Uint32Value();
	if (bpf_map_delete_batch(ArgFd(info, 0), BufArg(info, 1), &count, &opts))
		throw ErrnoError(env, "bpf_map_delete_batch", errno,
				 std::to_string(count) + " entries deleted");
	return Napi::Number::New(env, count);
}

static Napi::Value MapFreeze(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (bpf_map_freeze(ArgFd(info, 0)))
		throw ErrnoError(env, "bpf_map_freeze", errno);
	return env.Undefined();
}

static Napi::Value ObjPin(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::string path = info[1].As<Napi::String>();
	if (bpf_obj_pin(ArgFd(info, 0), path.c_str()))
		throw ErrnoError(env, "bpf_obj_pin", errno, path);
	return env.Undefined();
}

static Napi::Value ObjGet(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	std::string path = info[0].As<Napi::String>();
	int fd = bpf_obj_get(path.c_str());
	if (fd < 0)
		throw ErrnoError(env, "bpf_obj_get", errno, path);
	return Napi::Number::New(env, fd);
}

static Napi::Value CloseFd(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (close(ArgFd(info, 0)))
		throw ErrnoError(env, "close", errno);
	return env.Undefined();
}

static Napi::Value DupFd(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int fd = fcntl(ArgFd(info, 0), F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		throw ErrnoError(env, "dup", errno);
	return Napi::Number::New(env, fd);
}

static Napi::Value MapInfo(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct bpf_map_info mi;
	__u32 len = sizeof(mi);
	memset(&mi, 0, sizeof(mi));
	if (bpf_obj_get_info_by_fd(ArgFd(info, 0), &mi, &len))
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
	struct bpf_prog_info pi;
	__u32 len = sizeof(pi);
	memset(&pi, 0, sizeof(pi));
	if (bpf_obj_get_info_by_fd(ArgFd(info, 0), &pi, &len))
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
	struct bpf_link_info li;
	__u32 len = sizeof(li);
	memset(&li, 0, sizeof(li));
	if (bpf_obj_get_info_by_fd(ArgFd(info, 0), &li, &len))
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
	std::string kind = info[0].As<Napi::String>();
	__u32 id = info[1].As<Napi::Number>().Uint32Value();
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
static void ParseTestRun(const Napi::CallbackInfo &info, TestRun &run)
{
	run.fd = ArgFd(info, 0);
	Napi::Object o = info[1].As<Napi::Object>();
	if (o.Has("data") && o.Get("data").IsBuffer()) {
		auto b = o.Get("data").As<Napi::Buffer<uint8_t>>();
		run.data_in.assign(b.Data(), b.Data() + b.Length());
	}
	if (o.Has("dataSizeOut"))
		run.data_out.resize(o.Get("dataSizeOut").As<Napi::Number>().Uint32Value());
	if (o.Has("ctx") && o.Get("ctx").IsBuffer()) {
		auto b = o.Get("ctx").As<Napi::Buffer<uint8_t>>();
		run.ctx_in.assign(b.Data(), b.Data() + b.Length());
	}
	if (o.Has("ctxSizeOut"))
		run.ctx_out.resize(o.Get("ctxSizeOut").As<Napi::Number>().Uint32Value());
	if (o.Has("repeat"))
		run.repeat = o.Get("repeat").As<Napi::Number>().Uint32Value();
	if (o.Has("flags"))
		run.flags = o.Get("flags").As<Napi::Number>().Uint32Value();
	if (o.Has("batchSize"))
		run.batch_size = o.Get("batchSize").As<Napi::Number>().Uint32Value();
	if (o.Has("countInstructions"))
		run.count_insns = o.Get("countInstructions").ToBoolean();
}

static Napi::Value ProgTestRun(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	TestRun run;
	ParseTestRun(info, run);
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
	TestRunWorker *w = new TestRunWorker(info.Env());
	ParseTestRun(info, w->run);
	Napi::Promise p = w->deferred.Promise();
	w->Queue();
	return p;
}

/* XDP through a bpf_link (kernel 5.9+): the attachment is an fd that can be
 * pinned, updated atomically, and that detaches when its last reference goes. */
static Napi::Value XdpLinkCreate(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = info[2].As<Napi::Number>().Uint32Value());
	int fd = bpf_link_create(ArgFd(info, 0), info[1].As<Napi::Number>().Int32Value(), BPF_XDP,
				 &opts);
	if (fd < 0)
		throw ErrnoError(env, "bpf_link_create", errno);
	return Napi::Number::New(env, fd);
}

static Napi::Value LinkUpdate(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int old_fd = info.Length() > 2 && info[2].IsNumber() ? ArgFd(info, 2) : 0;
	LIBBPF_OPTS(bpf_link_update_opts, opts, .flags = (__u32)(old_fd > 0 ? BPF_F_REPLACE : 0),
		    .old_prog_fd = (__u32)old_fd);
	if (bpf_link_update(ArgFd(info, 0), ArgFd(info, 1), &opts))
		throw ErrnoError(env, "bpf_link_update", errno);
	return env.Undefined();
}

static Napi::Value LinkDetach(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	if (bpf_link_detach(ArgFd(info, 0)))
		throw ErrnoError(env, "bpf_link_detach", errno);
	return env.Undefined();
}

/* Netlink attach: the fallback for kernels without XDP links. */
static Napi::Value XdpAttach(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int old_fd = info.Length() > 3 && info[3].IsNumber() ? ArgFd(info, 3) : -1;
	__u32 flags = info[2].As<Napi::Number>().Uint32Value();
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = old_fd);
	if (old_fd >= 0)
		flags |= XDP_FLAGS_REPLACE;
	int err =
	    bpf_xdp_attach(info[0].As<Napi::Number>().Int32Value(), ArgFd(info, 1), flags, &opts);
	if (err)
		throw ErrnoError(env, "bpf_xdp_attach", -err);
	return env.Undefined();
}

static Napi::Value XdpDetach(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	int err = bpf_xdp_detach(info[0].As<Napi::Number>().Int32Value(),
				 info[1].As<Napi::Number>().Uint32Value(), nullptr);
	if (err)
		throw ErrnoError(env, "bpf_xdp_detach", -err);
	return env.Undefined();
}

static Napi::Value XdpQuery(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	LIBBPF_OPTS(bpf_xdp_query_opts, opts);
	int err = bpf_xdp_query(info[0].As<Napi::Number>().Int32Value(), 0, &opts);
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
	exports.Set("xdpLinkCreate", Napi::Function::New(env, XdpLinkCreate));
	exports.Set("linkUpdate", Napi::Function::New(env, LinkUpdate));
	exports.Set("linkDetach", Napi::Function::New(env, LinkDetach));
	exports.Set("xdpAttach", Napi::Function::New(env, XdpAttach));
	exports.Set("xdpDetach", Napi::Function::New(env, XdpDetach));
	exports.Set("xdpQuery", Napi::Function::New(env, XdpQuery));
	exports.Set("numPossibleCpus", Napi::Function::New(env, NumPossibleCpus));
}

} // namespace vipd
