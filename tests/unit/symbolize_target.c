/*
 * A library test_symbolize dlopens after its first lookup. It has to be one the process surely
 * has not mapped yet: the system libraries one would pick (libz, libstdc++) arrive with libdw
 * itself or with the sanitizers. Built stripped, so it also stands for a binary without DWARF.
 */
#include <stdint.h>

uintptr_t symbolize_target_call(void);

static __attribute__((noinline)) uintptr_t return_address(void)
{
	return (uintptr_t)__builtin_return_address(0);
}

static volatile int after_call;

/* @return an address inside this function (the return address of a call it makes). */
uintptr_t symbolize_target_call(void)
{
	const uintptr_t pc = return_address();
	after_call++; /* keeps the call above from becoming a tail call */
	return pc;
}
