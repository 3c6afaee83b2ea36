/* Bare-metal Cortex-M platform for the QEMU MPS2/MPS3 machines (Armv7-M / Armv8-M mainline):
 * vector table and reset, CMSDK APB UART, SysTick extended to 64 bits, HardFault report,
 * stack painting, and the few newlib hooks the C library needs.
 * The board's addresses and clock come from tinyship_config.h (generated from boards/<id>.yaml). */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "app.h"
#include "platform.h"
#include "tinyship_config.h"

#define REG(addr) (*(volatile uint32_t *)(addr))

/* CMSDK APB UART */
#define UART_DATA REG(TS_UART_BASE + 0x00)
#define UART_STATE REG(TS_UART_BASE + 0x04)
#define UART_CTRL REG(TS_UART_BASE + 0x08)
#define UART_BAUDDIV REG(TS_UART_BASE + 0x10)
#define UART_TX_FULL 1u
#define UART_RX_FULL 2u

/* System control space */
#define SYST_CSR REG(0xE000E010)
#define SYST_RVR REG(0xE000E014)
#define SYST_CVR REG(0xE000E018)
#define SCB_CPACR REG(0xE000ED88)
#define SCB_CFSR REG(0xE000ED28)

#define STACK_PAINT 0xA5A5A5A5u

extern uint32_t __data_start, __data_end, __data_load, __bss_start, __bss_end;
extern uint32_t __stack_bottom, __stack_top, __heap_start, __heap_end;
extern void __libc_init_array(void);

static volatile uint32_t systick_wraps;

/* ---- serial ---------------------------------------------------------------------------- */

static void uart_putc(char c)
{
    while (UART_STATE & UART_TX_FULL) {
    }
    UART_DATA = (uint8_t)c;
}

int plat_getc(void)
{
    while (!(UART_STATE & UART_RX_FULL)) {
    }
    return (int)(UART_DATA & 0xFF);
}

void plat_write(const char *s, size_t n)
{
    while (n--) {
        uart_putc(*s++);
    }
}

/* ---- time: SysTick on the processor clock, 24 bits extended by its interrupt ------------- */

void SysTick_Handler(void) { systick_wraps++; }

static uint64_t ticks(void)
{
    uint32_t wraps, value;
    do {
        wraps = systick_wraps;
        value = SYST_CVR;
    } while (wraps != systick_wraps);
    return ((uint64_t)wraps << 24) + (0xFFFFFFu - value);
}

/* Under `-icount shift=0` QEMU runs one instruction per ns of virtual time, so "cycles" are
 * instructions: ns = ticks * 1e9 / SysTick rate. */
uint64_t plat_cycles(void) { return ticks() * 1000000000u / TS_SYSTICK_HZ; }
uint64_t plat_cycle_hz(void) { return 1000000000u; }
const char *plat_timer(void) { return "systick"; }

/* ---- stack high-water mark ------------------------------------------------------------- */

size_t plat_stack_size(void) { return (size_t)((char *)&__stack_top - (char *)&__stack_bottom); }

size_t plat_stack_used(void)
{
    const uint32_t *p = &__stack_bottom;
    while (p < &__stack_top && *p == STACK_PAINT) {
        p++;
    }
    return (size_t)((const char *)&__stack_top - (const char *)p);
}

/* ---- faults ---------------------------------------------------------------------------- */

static void put_hex32(uint32_t v)
{
    static const char digits[] = "0123456789abcdef";
    for (int shift = 28; shift >= 0; shift -= 4) {
        uart_putc(digits[(v >> shift) & 15]);
    }
}

static void put_str(const char *s)
{
    while (*s) {
        uart_putc(*s++);
    }
}

/** Called with the exception frame: r0 r1 r2 r3 r12 lr pc xpsr. Prints one line and halts. */
void hardfault_report(const uint32_t *frame)
{
    put_str("e-[HARDFAULT pc=0x");
    put_hex32(frame[6]);
    put_str(" lr=0x");
    put_hex32(frame[5]);
    put_str(" cfsr=0x");
    put_hex32(SCB_CFSR);
    put_str("]\r\n");
    for (;;) {
        __asm volatile("wfi");
    }
}

__attribute__((naked)) void HardFault_Handler(void)
{
    __asm volatile(
        "tst lr, #4\n"
        "ite eq\n"
        "mrseq r0, msp\n"
        "mrsne r0, psp\n"
        "b hardfault_report\n");
}

void Default_Handler(void)
{
    put_str("e-[HARDFAULT unexpected exception]\r\n");
    for (;;) {
        __asm volatile("wfi");
    }
}

/* ---- reset ----------------------------------------------------------------------------- */

int main(void);

/** Paint the stack below the current frame so plat_stack_used() can find the high-water mark. */
static void __attribute__((noinline)) paint_stack(void)
{
    uint32_t *sp;
    __asm volatile("mov %0, sp" : "=r"(sp));
    for (uint32_t *p = &__stack_bottom; p < sp - 16; p++) {
        *p = STACK_PAINT;
    }
}

void Reset_Handler(void)
{
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    SCB_CPACR |= 0xFu << 20;   /* CP10/CP11 full access, before any float code */
    __asm volatile("dsb\nisb");
#endif
    memcpy(&__data_start, &__data_load, (size_t)((char *)&__data_end - (char *)&__data_start));
    memset(&__bss_start, 0, (size_t)((char *)&__bss_end - (char *)&__bss_start));
    paint_stack();
    __libc_init_array();
    UART_BAUDDIV = 16;
    UART_CTRL = 3;   /* TX and RX enable */
    SYST_RVR = 0xFFFFFFu;
    SYST_CVR = 0;
    SYST_CSR = 7;    /* processor clock, interrupt, enable */
    main();
    for (;;) {
    }
}

int main(void) { return app_main(); }

typedef void (*vector_t)(void);

__attribute__((section(".vectors"), used)) static const vector_t vectors[16] = {
    (vector_t)(uintptr_t)&__stack_top,
    Reset_Handler,
    Default_Handler,     /* NMI */
    HardFault_Handler,
    HardFault_Handler,   /* MemManage */
    HardFault_Handler,   /* BusFault */
    HardFault_Handler,   /* UsageFault */
    HardFault_Handler,   /* SecureFault (Armv8-M) */
    0, 0, 0,
    Default_Handler,     /* SVC */
    Default_Handler,     /* DebugMon */
    0,
    Default_Handler,     /* PendSV */
    SysTick_Handler,
};

/* ---- newlib hooks ---------------------------------------------------------------------- */

/** The C library's own allocations (printf's number conversion) come from the .heap section. */
void *_sbrk(ptrdiff_t incr)
{
    static char *brk = (char *)&__heap_start;
    if (incr < 0 || (size_t)incr > (size_t)((char *)&__heap_end - brk)) {
        errno = ENOMEM;
        return (void *)-1;
    }
    char *old = brk;
    brk += incr;
    return old;
}

void _init(void) {}
void _fini(void) {}
