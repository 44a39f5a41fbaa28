/* The vipd native addon: libbpf objects, maps, programs and links, BTF
 * layouts, bpffs and interface helpers, the VRRP socket path, BFD and the
 * Maglev table builder, and the event loop's watch. The typed face of all
 * of it lives in src/bpf, src/net, src/bfd, src/dataplane/maglev-native.ts
 * and src/metrics/event-loop.ts (src/native.ts loads it); nothing else
 * loads it. */
#include "addon.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports)
{
	vipd::InitBpfObject(env, exports);
	vipd::InitBpfOps(env, exports);
	vipd::InitBpfMmap(env, exports);
	vipd::InitBtfLayout(env, exports);
	vipd::InitSys(env, exports);
	vipd::InitVrrpNative(env, exports);
	vipd::InitBfd(env, exports);
	vipd::InitMaglev(env, exports);
	vipd::InitLoopWatch(env, exports);
	return exports;
}

NODE_API_MODULE(vipd_native, Init)
