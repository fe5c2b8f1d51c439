/*
 * Preloaded in front of libctrace.so: the first source-line lookup of the tracer's
 * symbolizer takes SLOW_SYMBOLS_MS longer (default 300), as loading a large library's
 * debug information does. The tracer must keep draining its rings meanwhile.
 */
#include <dlfcn.h>
#include <elfutils/libdwfl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

Dwfl_Line *dwfl_module_getsrc(Dwfl_Module *mod, Dwarf_Addr addr)
{
	static atomic_int slowed;
	Dwfl_Line *(*real)(Dwfl_Module *, Dwarf_Addr) = dlsym(RTLD_NEXT, "dwfl_module_getsrc");
	if (!atomic_exchange(&slowed, 1)) {
		const char *ms = getenv("SLOW_SYMBOLS_MS");
		long v = ms ? atol(ms) : 300;
		struct timespec ts = { v / 1000, (v % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
	return real ? real(mod, addr) : NULL;
}
