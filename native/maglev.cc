/* Maglev table builds in native code: the same table, byte for byte, as the
 * TypeScript reference (buildMaglevTableReference() in
 * src/dataplane/maglev.ts, whose header and docs/maglev.md give the
 * contract), about twice as fast (docs/maglev.md, "Native build"). A
 * daemon with 10 000 services builds 10 000 tables while the kernel
 * allocates its maps, so this is on the critical path of start-up.
 *
 * maglevBuild(keys, ends, weights, count, table)
 *   keys     Uint8Array: the UTF-8 of every backend's key, one after another
 *   ends     Uint32Array: ends[i] is where key i ends in keys (key i starts
 *            at ends[i - 1], key 0 at 0); at least count elements
 *   weights  Uint32Array: weights[i] of backend i; 0 keeps it out
 *   count    number of backends
 *   table    Uint32Array of the table size (a prime from 2 to 2^20): slot s
 *            gets the index (0 .. count - 1) of its backend, or 0xffffffff
 *            in every slot when no backend has a weight
 *
 * Validation of the backends (key types, duplicate keys, weight ranges)
 * stays in TypeScript, which has the keys as strings and names the entry in
 * its errors. This side only checks what keeps it from reading or writing
 * out of bounds or looping forever (lengths, offsets, a prime size, no more
 * weighted backends than slots): inconsistent input is a TypeError or a
 * RangeError, never a crash. Everything is copied out of the arrays before
 * the table is written, so overlapping arrays give garbage, not a fault. */
#include "addon.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace vipd
{

static const uint32_t kNoBackend = 0xffffffffu;
static const uint32_t kSeedOffset = 0x6d61676cu; /* "magl" */
static const uint32_t kSeedSkip = 0x65763032u;	 /* "ev02" */
static const uint32_t kMaxSize = 1u << 20;

static inline uint32_t Rotl32(uint32_t x, int r)
{
	return (x << r) | (x >> (32 - r));
}

/* MurmurHash3 x86_32 (Austin Appleby, public domain); blocks read
 * little-endian byte by byte, as murmur3_32() in maglev.ts does. */
static uint32_t Murmur3(const uint8_t *data, size_t len, uint32_t seed)
{
	const uint32_t c1 = 0xcc9e2d51u;
	const uint32_t c2 = 0x1b873593u;
	uint32_t h = seed;
	size_t blocks = len & ~(size_t)3;
	for (size_t i = 0; i < blocks; i += 4) {
		uint32_t k = (uint32_t)data[i] | ((uint32_t)data[i + 1] << 8) |
			     ((uint32_t)data[i + 2] << 16) | ((uint32_t)data[i + 3] << 24);
		k *= c1;
		k = Rotl32(k, 15);
		k *= c2;
		h ^= k;
		h = Rotl32(h, 13);
		h = h * 5 + 0xe6546b64u;
	}
	size_t rest = len & 3;
	if (rest != 0) {
		uint32_t k = 0;
		if (rest == 3)
			k ^= (uint32_t)data[blocks + 2] << 16;
		if (rest >= 2)
			k ^= (uint32_t)data[blocks + 1] << 8;
		k ^= data[blocks];
		k *= c1;
		k = Rotl32(k, 15);
		k *= c2;
		h ^= k;
	}
	h ^= (uint32_t)len;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

static bool IsPrime(uint32_t n)
{
	if (n < 2)
		return false;
	if (n % 2 == 0)
		return n == 2;
	if (n % 3 == 0)
		return n == 3;
	for (uint32_t d = 5; d * d <= n; d += 6)
		if (n % d == 0 || n % (d + 2) == 0)
			return false;
	return true;
}

/* One weighted backend: where its key is, its permutation, its schedule. */
struct Backend {
	uint32_t start, len; /* its key in the keys array */
	uint32_t index;	     /* into the caller's arrays */
	uint32_t weight;
	uint32_t pos; /* current preferred slot */
	uint32_t skip;
	/* (t + 1) * W / weight after t turns, as quotient and remainder:
	 * its next turn's round is the quotient rounded up. Each turn adds
	 * W / weight (step_quot, step_rem): no division per turn. */
	uint64_t quot, rem;
	uint64_t step_quot, step_rem;
};

/* A backend's next turn in the heap: its round and its position in key
 * order, side by side so that comparing two needs no other memory. */
struct Turn {
	uint64_t round;
	uint32_t at;
};

static inline uint64_t NextRound(const Backend &b)
{
	return b.quot + (b.rem != 0);
}

/* Scratch kept between calls (a build makes no allocation once warm). */
struct Scratch {
	std::vector<Backend> live;
	std::vector<Turn> heap;
};

static thread_local Scratch scratch;
/* The last size found prime: a daemon builds thousands of tables of one size. */
static thread_local uint32_t last_prime = 0;

/* Backend b's turn: it claims its next free preferred slot. */
static inline void TakeTurn(uint32_t *slots, uint32_t size, Backend &b)
{
	uint32_t p = b.pos;
	uint32_t step = b.skip;
	while (slots[p] != kNoBackend) {
		p += step;
		if (p >= size)
			p -= size;
	}
	slots[p] = b.index;
	p += step;
	b.pos = p >= size ? p - size : p;
}

/* (round, position in key order): the order turns are taken in. */
static inline bool Before(const Turn &a, const Turn &b)
{
	return a.round < b.round || (a.round == b.round && a.at < b.at);
}

static void SiftDown(Turn *heap, uint32_t n, uint32_t at)
{
	Turn item = heap[at];
	for (;;) {
		uint32_t child = 2 * at + 1;
		if (child >= n)
			break;
		if (child + 1 < n && Before(heap[child + 1], heap[child]))
			child++;
		if (!Before(heap[child], item))
			break;
		heap[at] = heap[child];
		at = child;
	}
	heap[at] = item;
}

template <typename T>
static Napi::TypedArrayOf<T> Typed(const Napi::CallbackInfo &info, size_t i, const char *name,
				   napi_typedarray_type type, const char *want)
{
	if (i >= info.Length() || !info[i].IsTypedArray() ||
	    info[i].As<Napi::TypedArray>().TypedArrayType() != type)
		throw Napi::TypeError::New(info.Env(), std::string("maglevBuild: argument ") +
							   std::to_string(i + 1) + " (" + name +
							   ") must be a " + want);
	return info[i].As<Napi::TypedArrayOf<T>>();
}

static Napi::Value MaglevBuild(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	auto keys = Typed<uint8_t>(info, 0, "keys", napi_uint8_array, "Uint8Array");
	auto ends = Typed<uint32_t>(info, 1, "ends", napi_uint32_array, "Uint32Array");
	auto weights = Typed<uint32_t>(info, 2, "weights", napi_uint32_array, "Uint32Array");
	if (info.Length() < 4 || !info[3].IsNumber())
		throw Napi::TypeError::New(env, "maglevBuild: argument 4 (count) must be a number");
	double count_d = info[3].As<Napi::Number>().DoubleValue();
	auto table = Typed<uint32_t>(info, 4, "table", napi_uint32_array, "Uint32Array");

	/* NaN fails the first test; the cast comes after the range tests. */
	if (!(count_d >= 0) || count_d > (double)UINT32_MAX ||
	    count_d > (double)ends.ElementLength() || count_d > (double)weights.ElementLength() ||
	    count_d != (double)(uint32_t)count_d)
		throw Napi::RangeError::New(
		    env, "maglevBuild: count must be an integer from 0 to the length of ends (" +
			     std::to_string(ends.ElementLength()) + ") and weights (" +
			     std::to_string(weights.ElementLength()) + "), got " +
			     std::to_string(count_d));
	uint32_t count = (uint32_t)count_d;
	size_t size_z = table.ElementLength();
	if (size_z > kMaxSize)
		throw Napi::RangeError::New(
		    env, "maglevBuild: table size must be a prime from 2 to " +
			     std::to_string(kMaxSize) + ", got " + std::to_string(size_z));
	uint32_t size = (uint32_t)size_z;
	if (size != last_prime) {
		if (!IsPrime(size))
			throw Napi::RangeError::New(
			    env, "maglevBuild: table size must be a prime from 2 to " +
				     std::to_string(kMaxSize) + ", got " + std::to_string(size));
		last_prime = size;
	}

	const uint8_t *key_bytes = keys.Data();
	size_t key_total = keys.ElementLength();
	const uint32_t *end = ends.Data();
	const uint32_t *weight = weights.Data();

	std::vector<Backend> &live = scratch.live;
	live.clear();
	uint32_t max_weight = 0;
	bool equal = true;
	uint64_t weighted = 0; /* live holds at most size of them */
	for (uint32_t i = 0, start = 0; i < count; start = end[i], i++) {
		if (end[i] < start || end[i] > key_total)
			throw Napi::RangeError::New(
			    env, "maglevBuild: ends[" + std::to_string(i) + "] (" +
				     std::to_string(end[i]) + ") must be from ends[i - 1] (" +
				     std::to_string(start) + ") to the length of keys (" +
				     std::to_string(key_total) + ")");
		uint32_t w = weight[i];
		if (w == 0)
			continue;
		if (max_weight != 0 && w != max_weight)
			equal = false;
		if (w > max_weight)
			max_weight = w;
		if (++weighted <= size)
			live.push_back(Backend{start, end[i] - start, i, w, 0, 0, 0, 0, 0, 0});
	}
	if (weighted > size)
		throw Napi::RangeError::New(env, "maglevBuild: " + std::to_string(weighted) +
						     " weighted backends do not fit a table of " +
						     std::to_string(size) + " slots");

	uint32_t n = (uint32_t)live.size();

	/* Key order: the UTF-8 bytes, byte-wise, shorter first on a common
	 * prefix; equal bytes (distinct keys with lone surrogates both encode
	 * as U+FFFD) keep the caller's order, as the stable sort in TypeScript. */
	std::sort(live.begin(), live.end(), [key_bytes](const Backend &a, const Backend &b) {
		uint32_t len = std::min(a.len, b.len);
		int c = len == 0 ? 0 : memcmp(key_bytes + a.start, key_bytes + b.start, len);
		if (c != 0)
			return c < 0;
		if (a.len != b.len)
			return a.len < b.len;
		return a.index < b.index;
	});
	for (Backend &b : live) {
		const uint8_t *k = key_bytes + b.start;
		b.pos = Murmur3(k, b.len, kSeedOffset) % size;
		b.skip = Murmur3(k, b.len, kSeedSkip) % (size - 1) + 1;
	}

	/* From here on nothing reads the caller's input arrays. */
	uint32_t *slots = table.Data();
	std::fill(slots, slots + size, kNoBackend);
	if (n == 0)
		return env.Undefined();

	if (equal) {
		/* Equal weights: every round each backend takes one turn, in
		 * key order; the turns simply cycle. */
		for (uint32_t filled = 0, i = 0; filled < size; filled++) {
			TakeTurn(slots, size, live[i]);
			if (++i == n)
				i = 0;
		}
		return env.Undefined();
	}

	/* Katran's MaglevV2 rounds: backend i's (t+1)-th turn falls in round
	 * ceil((t+1) * W / w_i); turns are taken in (round, key order) from a
	 * heap, exactly: (t+1) <= 2^20 + 1 and W < 2^32, so (t+1) * W < 2^53
	 * and every quotient and remainder fits 64 bits. */
	std::vector<Turn> &heap = scratch.heap;
	heap.resize(n);
	for (uint32_t i = 0; i < n; i++) {
		Backend &b = live[i];
		b.step_quot = b.quot = max_weight / b.weight;
		b.step_rem = b.rem = max_weight % b.weight;
		heap[i] = Turn{NextRound(b), i};
	}
	for (int64_t i = (int64_t)(n >> 1) - 1; i >= 0; i--)
		SiftDown(heap.data(), n, (uint32_t)i);
	for (uint32_t filled = 0; filled < size; filled++) {
		Backend &b = live[heap[0].at];
		TakeTurn(slots, size, b);
		b.quot += b.step_quot;
		b.rem += b.step_rem;
		if (b.rem >= b.weight) {
			b.rem -= b.weight;
			b.quot++;
		}
		heap[0].round = NextRound(b);
		SiftDown(heap.data(), n, 0);
	}
	return env.Undefined();
}

void InitMaglev(Napi::Env env, Napi::Object exports)
{
	exports.Set("maglevBuild", Napi::Function::New(env, MaglevBuild, "maglevBuild"));
}

} // namespace vipd
