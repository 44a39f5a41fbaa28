/* Struct layouts and data-section variables read from an object's BTF, so
 * the TypeScript codecs can be checked against what clang really laid out,
 * and `const volatile` settings can be found by name. */
#include "addon.h"
#include "args.h"
#include "errors.h"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <cerrno>

namespace vipd
{

class BtfHandle
{
      public:
	explicit BtfHandle(struct btf *b) : btf(b)
	{
	}
	~BtfHandle()
	{
		btf__free(btf);
	}
	struct btf *btf;
};

static struct btf *OpenBtf(Napi::Env env, const std::string &path)
{
	struct btf *btf = btf__parse_elf(path.c_str(), nullptr);
	if (!btf)
		throw ErrnoError(env, "btf__parse_elf", errno, path);
	return btf;
}

/* btfStructs(path) -> [{name, size, members: [{name, offset, size, bitfield}]}] */
static Napi::Value BtfStructs(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	BtfHandle h(OpenBtf(env, Args(info, "btfStructs").String(0, "path")));
	Napi::Array out = Napi::Array::New(env);
	uint32_t n = 0;

	for (__u32 id = 1; id < btf__type_cnt(h.btf); id++) {
		const struct btf_type *t = btf__type_by_id(h.btf, id);
		if (!btf_is_composite(t) || !t->name_off)
			continue;
		Napi::Object s = Napi::Object::New(env);
		s.Set("name", btf__name_by_offset(h.btf, t->name_off));
		s.Set("kind", btf_is_struct(t) ? "struct" : "union");
		s.Set("size", (double)t->size);
		Napi::Array members = Napi::Array::New(env);
		const struct btf_member *m = btf_members(t);
		for (__u16 i = 0; i < btf_vlen(t); i++, m++) {
			Napi::Object mo = Napi::Object::New(env);
			__u32 bit_off = btf_member_bit_offset(t, i);
			__s64 size = btf__resolve_size(h.btf, m->type);
			mo.Set("name", btf__name_by_offset(h.btf, m->name_off));
			mo.Set("offset", (double)(bit_off / 8));
			mo.Set("size", (double)size);
			mo.Set("bitfield", btf_member_bitfield_size(t, i) != 0 || bit_off % 8 != 0);
			members.Set(i, mo);
		}
		s.Set("members", members);
		out.Set(n++, s);
	}
	return out;
}

/* btfDatasec(path, ".rodata") -> [{name, offset, size}]. From the BTF of the
 * object as libbpf opens it: in the file, clang leaves a data section's
 * size and its variables' offsets at 0, and libbpf fills them in from the
 * ELF symbols at open (so the raw BTF put every constant at offset 0). */
static Napi::Value BtfDatasec(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	Args a(info, "btfDatasec");
	std::string path = a.String(0, "path");
	std::string sec = a.String(1, "section");
	struct bpf_object *obj = bpf_object__open_file(path.c_str(), nullptr);
	int err = (int)libbpf_get_error(obj);
	if (err)
		throw ErrnoError(env, "bpf_object__open_file", -err, path);
	Napi::Array out = Napi::Array::New(env);
	struct btf *btf = bpf_object__btf(obj);
	__s32 id = btf ? btf__find_by_name_kind(btf, sec.c_str(), BTF_KIND_DATASEC) : -1;
	if (id >= 0) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		const struct btf_var_secinfo *v = btf_var_secinfos(t);
		for (__u16 i = 0; i < btf_vlen(t); i++, v++) {
			const struct btf_type *var = btf__type_by_id(btf, v->type);
			Napi::Object o = Napi::Object::New(env);
			o.Set("name", btf__name_by_offset(btf, var->name_off));
			o.Set("offset", (double)v->offset);
			o.Set("size", (double)v->size);
			out.Set(i, o);
		}
	}
	bpf_object__close(obj);
	return out;
}

void InitBtfLayout(Napi::Env env, Napi::Object exports)
{
	exports.Set("btfStructs", Napi::Function::New(env, BtfStructs));
	exports.Set("btfDatasec", Napi::Function::New(env, BtfDatasec));
}

} // namespace vipd
