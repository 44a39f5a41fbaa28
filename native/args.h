/* Argument checks for the functions JavaScript calls. A value of the wrong
 * type throws a TypeError (a number out of range a RangeError) that names
 * the function and the argument, before anything reaches a syscall: a bad
 * call from JavaScript is an exception, never a crash or a kernel write
 * past the end of a buffer. */
#pragma once
#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>

namespace vipd
{

class Args
{
      public:
	Args(const Napi::CallbackInfo &info, const char *fn) : info(info), fn(fn)
	{
	}

	[[noreturn]] void TypeFail(size_t i, const char *name, const std::string &want) const
	{
		throw Napi::TypeError::New(info.Env(), Where(i, name) + " must be " + want);
	}

	[[noreturn]] void RangeFail(size_t i, const char *name, const std::string &why) const
	{
		throw Napi::RangeError::New(info.Env(), Where(i, name) + " " + why);
	}

	Napi::Env Env() const
	{
		return info.Env();
	}

	bool Missing(size_t i) const
	{
		return i >= info.Length() || info[i].IsUndefined();
	}

	bool Absent(size_t i) const
	{
		return Missing(i) || info[i].IsNull();
	}

	/* An integral number in [min, max]. */
	double Integer(size_t i, const char *name, double min, double max) const
	{
		if (Missing(i) || !info[i].IsNumber())
			TypeFail(i, name, "a number");
		double v = info[i].As<Napi::Number>().DoubleValue();
		if (!std::isfinite(v) || v != std::floor(v) || v < min || v > max)
			RangeFail(i, name,
				  "must be an integer from " + std::to_string((long long)min) +
				      " to " + std::to_string((long long)max) + ", got " +
				      std::to_string(v));
		return v;
	}

	int Fd(size_t i, const char *name = "fd") const
	{
		return (int)Integer(i, name, 0, INT32_MAX);
	}

	int32_t I32(size_t i, const char *name) const
	{
		return (int32_t)Integer(i, name, INT32_MIN, INT32_MAX);
	}

	uint32_t U32(size_t i, const char *name) const
	{
		return (uint32_t)Integer(i, name, 0, UINT32_MAX);
	}

	/* A number or a bigint; def when undefined. */
	uint64_t U64Opt(size_t i, const char *name, uint64_t def = 0) const
	{
		if (Missing(i))
			return def;
		if (info[i].IsBigInt()) {
			bool lossless;
			uint64_t v = info[i].As<Napi::BigInt>().Uint64Value(&lossless);
			if (!lossless)
				RangeFail(i, name, "does not fit in 64 bits unsigned");
			return v;
		}
		if (!info[i].IsNumber())
			TypeFail(i, name, "a number or a bigint");
		return (uint64_t)Integer(i, name, 0, 9007199254740991.0);
	}

	bool Bool(size_t i, const char *name) const
	{
		if (Missing(i) || !info[i].IsBoolean())
			TypeFail(i, name, "a boolean");
		return info[i].As<Napi::Boolean>().Value();
	}

	bool BoolOpt(size_t i, const char *name, bool def = false) const
	{
		if (Missing(i))
			return def;
		if (!info[i].IsBoolean())
			TypeFail(i, name, "a boolean");
		return info[i].As<Napi::Boolean>().Value();
	}

	std::string String(size_t i, const char *name) const
	{
		if (Missing(i) || !info[i].IsString())
			TypeFail(i, name, "a string");
		return info[i].As<Napi::String>().Utf8Value();
	}

	Napi::Object Object(size_t i, const char *name) const
	{
		if (Missing(i) || !info[i].IsObject())
			TypeFail(i, name, "an object");
		return info[i].As<Napi::Object>();
	}

	/* A Buffer (or Uint8Array) of at least min bytes. */
	Napi::Buffer<uint8_t> Buffer(size_t i, const char *name, size_t min = 0) const
	{
		if (Missing(i) || !info[i].IsBuffer())
			TypeFail(i, name, "a Buffer");
		Napi::Buffer<uint8_t> b = info[i].As<Napi::Buffer<uint8_t>>();
		if (b.Length() < min)
			TypeFail(i, name,
				 "a Buffer of at least " + std::to_string(min) + " bytes, got " +
				     std::to_string(b.Length()));
		return b;
	}

	/* Buffer(), or nullptr for null or undefined. */
	uint8_t *BufferOrNull(size_t i, const char *name, size_t min = 0) const
	{
		return Absent(i) ? nullptr : Buffer(i, name, min).Data();
	}

	/* Optional properties of an options object (undefined: absent). */
	bool Has(Napi::Object o, const char *key) const
	{
		return o.Has(key) && !o.Get(key).IsUndefined();
	}

	uint32_t OptU32(Napi::Object o, const char *key, uint32_t def) const
	{
		if (!Has(o, key))
			return def;
		Napi::Value v = o.Get(key);
		double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
		if (!v.IsNumber())
			throw Napi::TypeError::New(info.Env(), Option(key) + " must be a number");
		if (!std::isfinite(d) || d != std::floor(d) || d < 0 || d > UINT32_MAX)
			throw Napi::RangeError::New(info.Env(),
						    Option(key) + " must be an integer from 0 to " +
							std::to_string(UINT32_MAX));
		return (uint32_t)d;
	}

	/* A Buffer option, or an empty one when absent. */
	Napi::Buffer<uint8_t> OptBuffer(Napi::Object o, const char *key) const
	{
		if (!Has(o, key))
			return Napi::Buffer<uint8_t>::New(info.Env(), 0);
		Napi::Value v = o.Get(key);
		if (!v.IsBuffer())
			throw Napi::TypeError::New(info.Env(), Option(key) + " must be a Buffer");
		return v.As<Napi::Buffer<uint8_t>>();
	}

      private:
	std::string Option(const char *key) const
	{
		return std::string(fn) + ": option " + key;
	}

	std::string Where(size_t i, const char *name) const
	{
		return std::string(fn) + ": argument " + std::to_string(i + 1) + " (" + name + ")";
	}

	const Napi::CallbackInfo &info;
	const char *fn;
};

} // namespace vipd
