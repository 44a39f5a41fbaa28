/* Entry points of each part of the addon; addon.cc calls them in order. */
#pragma once
#include <napi.h>

namespace vipd
{

void InitBpfObject(Napi::Env env, Napi::Object exports);
void InitBpfOps(Napi::Env env, Napi::Object exports);
void InitBpfMmap(Napi::Env env, Napi::Object exports);
void InitBtfLayout(Napi::Env env, Napi::Object exports);
void InitSys(Napi::Env env, Napi::Object exports);
void InitVrrpNative(Napi::Env env, Napi::Object exports);
void InitBfd(Napi::Env env, Napi::Object exports);
void InitMaglev(Napi::Env env, Napi::Object exports);
void InitLoopWatch(Napi::Env env, Napi::Object exports);

} // namespace vipd
