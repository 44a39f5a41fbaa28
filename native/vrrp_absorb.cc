/* The kernel half of the steady BACKUP (vrrp_absorb.h).
 *
 * The filter is generated per steady advert rather than compiled once: the
 * advert's bytes become immediates of 32-bit compares, so the program is a
 * straight line of loads and compares with no copy of the packet and no
 * loop, and a new steady advert (a priority change, say) is a new program.
 * Packet loads are the legacy LD_ABS ones: they reach the network header of
 * an IPv6 raw socket's packet (whose data starts at the VRRP payload)
 * through SKF_NET_OFF. The length is checked first, so no load can fall off
 * the end (an LD_ABS past the end would drop the packet).
 *
 * IPv4 (the packet starts at the IP header): length 20 + payload, first
 * byte 0x45 (no options), TTL 255, source, destination, payload.
 * IPv6 (the packet starts at the payload): length, hop limit 255, source,
 * destination (net header + 7, + 8, + 24), payload.
 * Match: count++ and last = bpf_ktime_get_ns() in the counters entry, and
 * drop (return 0). Otherwise keep the whole packet. */
#include "vrrp_absorb.h"

#include <bpf/bpf.h>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#ifndef SO_ATTACH_BPF
#define SO_ATTACH_BPF 50
#endif

namespace vipd
{

namespace
{

struct Insn {
	static bpf_insn Make(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
	{
		bpf_insn i;
		memset(&i, 0, sizeof(i));
		i.code = code;
		i.dst_reg = dst;
		i.src_reg = src;
		i.off = off;
		i.imm = imm;
		return i;
	}
};

/* A program under construction; compares jump to "pass", patched at the end. */
class Program
{
      public:
	void Emit(bpf_insn i)
	{
		insns_.push_back(i);
	}

	/* r0 = packet bytes at off (size BPF_W / BPF_H / BPF_B), host order. */
	void LoadAbs(int size, int32_t off)
	{
		Emit(Insn::Make(BPF_LD | BPF_ABS | size, 0, 0, 0, off));
	}

	/* if (u32)r0 != imm goto pass */
	void JumpUnlessEqual(uint32_t imm)
	{
		pass_jumps_.push_back(insns_.size());
		Emit(Insn::Make(BPF_JMP32 | BPF_JNE | BPF_K, 0, 0, 0, (int32_t)imm));
	}

	/* Compares len bytes of the packet at off with bytes, big-endian
	 * words (LD_ABS converts to host order, as the compare wants). */
	void CompareBytes(int32_t off, const uint8_t *bytes, size_t len)
	{
		size_t i = 0;
		for (; i + 4 <= len; i += 4) {
			LoadAbs(BPF_W, off + (int32_t)i);
			JumpUnlessEqual((uint32_t)bytes[i] << 24 | (uint32_t)bytes[i + 1] << 16 |
					(uint32_t)bytes[i + 2] << 8 | bytes[i + 3]);
		}
		for (; i + 2 <= len; i += 2) {
			LoadAbs(BPF_H, off + (int32_t)i);
			JumpUnlessEqual((uint32_t)bytes[i] << 8 | bytes[i + 1]);
		}
		for (; i < len; i++) {
			LoadAbs(BPF_B, off + (int32_t)i);
			JumpUnlessEqual(bytes[i]);
		}
	}

	/* The match tail (count, timestamp, drop), then the pass exit. */
	std::vector<bpf_insn> Finish(int map_fd)
	{
		/* r7 = bpf_ktime_get_ns() */
		Emit(Insn::Make(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_ktime_get_ns));
		Emit(Insn::Make(BPF_ALU64 | BPF_MOV | BPF_X, 7, 0, 0, 0));
		/* r0 = bpf_map_lookup_elem(map, &(u32){0}) */
		Emit(Insn::Make(BPF_ST | BPF_MEM | BPF_W, 10, 0, -4, 0));
		Emit(Insn::Make(BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_FD, 0, map_fd));
		Emit(Insn::Make(0, 0, 0, 0, 0));
		Emit(Insn::Make(BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0));
		Emit(Insn::Make(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -4));
		Emit(Insn::Make(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem));
		Emit(Insn::Make(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 3, 0));
		/* last = r7, then count += 1 (the reader reads count first) */
		Emit(Insn::Make(BPF_STX | BPF_MEM | BPF_DW, 0, 7, 8, 0));
		Emit(Insn::Make(BPF_ALU64 | BPF_MOV | BPF_K, 1, 0, 0, 1));
		Emit(Insn::Make(BPF_STX | BPF_ATOMIC | BPF_DW, 0, 1, 0, BPF_ADD));
		/* drop */
		Emit(Insn::Make(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0));
		Emit(Insn::Make(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
		/* pass: keep it all */
		size_t pass = insns_.size();
		Emit(Insn::Make(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, -1));
		Emit(Insn::Make(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
		for (size_t j : pass_jumps_)
			insns_[j].off = (int16_t)(pass - j - 1);
		return insns_;
	}

	size_t size() const
	{
		return insns_.size();
	}

      private:
	std::vector<bpf_insn> insns_;
	std::vector<size_t> pass_jumps_;
};

const uint8_t *Bytes(const IpAddr &a)
{
	return a.family == AF_INET ? (const uint8_t *)&a.v4 : (const uint8_t *)&a.v6;
}

} // namespace

KernelAbsorber::~KernelAbsorber()
{
	if (counters_)
		munmap((void *)counters_, (size_t)sysconf(_SC_PAGESIZE));
	if (prog_fd_ >= 0)
		close(prog_fd_);
	if (map_fd_ >= 0)
		close(map_fd_);
}

int KernelAbsorber::OpenCounters()
{
	if (map_fd_ >= 0)
		return 0;
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "vipd_absorbed", 4, 16, 1, &opts);
	if (fd < 0)
		return errno;
	void *m = mmap(nullptr, (size_t)sysconf(_SC_PAGESIZE), PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		int err = errno;
		close(fd);
		return err;
	}
	map_fd_ = fd;
	counters_ = (volatile uint64_t *)m;
	seen_ = counters_[0];
	return 0;
}

int KernelAbsorber::Attach(int sock_fd, int family, const IpAddr &src, const IpAddr &dst,
			   const std::string &payload, bool attach_now)
{
	int err = OpenCounters();
	if (err)
		return err;
	const uint8_t *p = (const uint8_t *)payload.data();
	size_t alen = family == AF_INET ? 4 : 16;
	Program prog;
	/* r6 = ctx (LD_ABS wants it there); r0 = skb->len */
	prog.Emit(Insn::Make(BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0));
	prog.Emit(Insn::Make(BPF_LDX | BPF_MEM | BPF_W, 0, 6, offsetof(struct __sk_buff, len), 0));
	if (family == AF_INET) {
		prog.JumpUnlessEqual((uint32_t)(20 + payload.size()));
		prog.LoadAbs(BPF_B, 0);
		prog.JumpUnlessEqual(0x45);
		prog.LoadAbs(BPF_B, 8);
		prog.JumpUnlessEqual(255);
		prog.CompareBytes(12, Bytes(src), alen);
		prog.CompareBytes(16, Bytes(dst), alen);
		prog.CompareBytes(20, p, payload.size());
	} else {
		prog.JumpUnlessEqual((uint32_t)payload.size());
		prog.LoadAbs(BPF_B, SKF_NET_OFF + 7);
		prog.JumpUnlessEqual(255);
		prog.CompareBytes(SKF_NET_OFF + 8, Bytes(src), alen);
		prog.CompareBytes(SKF_NET_OFF + 24, Bytes(dst), alen);
		prog.CompareBytes(0, p, payload.size());
	}
	std::vector<bpf_insn> insns = prog.Finish(map_fd_);
	int fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "vipd_absorb", "Dual BSD/GPL",
			       insns.data(), insns.size(), nullptr);
	if (fd < 0)
		return errno;
	if (!attach_now) {
		/* Kept for Reattach(): never the filter of an older advert. */
		if (prog_fd_ >= 0)
			close(prog_fd_);
		prog_fd_ = fd;
		return 0;
	}
	if (setsockopt(sock_fd, SOL_SOCKET, SO_ATTACH_BPF, &fd, sizeof(fd))) {
		err = errno;
		close(fd);
		return err;
	}
	if (prog_fd_ >= 0)
		close(prog_fd_);
	prog_fd_ = fd;
	attached_ = true;
	return 0;
}

void KernelAbsorber::Detach(int sock_fd)
{
	if (!attached_)
		return;
	int unused = 0;
	setsockopt(sock_fd, SOL_SOCKET, SO_DETACH_FILTER, &unused, sizeof(unused));
	attached_ = false;
}

int KernelAbsorber::Reattach(int sock_fd)
{
	if (attached_ || prog_fd_ < 0)
		return 0;
	if (setsockopt(sock_fd, SOL_SOCKET, SO_ATTACH_BPF, &prog_fd_, sizeof(prog_fd_)))
		return errno;
	attached_ = true;
	return 0;
}

uint64_t KernelAbsorber::Take(int64_t *last_arrival_ns)
{
	*last_arrival_ns = 0;
	if (!counters_)
		return 0;
	uint64_t count = counters_[0];
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	uint64_t last = counters_[1];
	uint64_t n = count - seen_;
	seen_ = count;
	if (n)
		*last_arrival_ns = (int64_t)last;
	return n;
}

} // namespace vipd
