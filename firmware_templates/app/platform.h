/* The platform layer: the only board-specific code the app calls.
 * Implemented by firmware_templates/platform/<host|cortex-m|arduino>. */
#ifndef TINYSHIP_PLATFORM_H
#define TINYSHIP_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Read one byte from the serial port, blocking; -1 once the port is closed (host only). */
int plat_getc(void);
/** Write @p n bytes to the serial port. */
void plat_write(const char *s, size_t n);
/** Cycles since boot (instructions on an emulator, ns on the host). */
uint64_t plat_cycles(void);
/** Rate of plat_cycles() in Hz, so cycles / plat_cycle_hz() = seconds. */
uint64_t plat_cycle_hz(void);
/** "dwt", "systick" or "host". */
const char *plat_timer(void);
/** 1 when running in an emulator (cycles are then instruction counts), else 0. */
int plat_emulated(void);
/** Bytes reserved for the stack, and the high-water mark found by stack painting (0 if unknown). */
size_t plat_stack_size(void);
size_t plat_stack_used(void);

#ifdef __cplusplus
}
#endif

#endif
