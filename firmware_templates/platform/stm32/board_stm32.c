/* STM32 board glue, F1 and F4 families (register facts from ST's reference manuals RM0008 and
 * RM0090): the core clock from the HSE crystal through the PLL, the USART's pins as alternate
 * function, the USART polled at 8N1. The board's PLL factors, bus dividers, USART and pins come
 * from tinyship_config.h. Every wait for the hardware is bounded: without a working crystal (or
 * in QEMU, which models no RCC) the core stays on the HSI clock it reset with. */
#include <stdint.h>

#include "board.h"
#include "tinyship_config.h"

#define REG(addr) (*(volatile uint32_t *)(addr))

/* USART: the same registers on F1 and F4 */
#define USART_SR REG(TS_UART_BASE + 0x00)
#define USART_DR REG(TS_UART_BASE + 0x04)
#define USART_BRR REG(TS_UART_BASE + 0x08)
#define USART_CR1 REG(TS_UART_BASE + 0x0C)
#define SR_RXNE (1u << 5)
#define SR_TXE (1u << 7)
#define CR1_UE (1u << 13)
#define CR1_TE (1u << 3)
#define CR1_RE (1u << 2)

/* RCC_CR and RCC_CFGR bits common to both families */
#define CR_HSEON (1u << 16)
#define CR_HSERDY (1u << 17)
#define CR_PLLON (1u << 24)
#define CR_PLLRDY (1u << 25)
#define CFGR_SW_PLL 2u
#define CFGR_SWS_MASK (3u << 2)
#define CFGR_SWS_PLL (2u << 2)

#if TS_STM32_FAMILY == 4
#define RCC_BASE 0x40023800u
#define RCC_CR REG(RCC_BASE + 0x00)
#define RCC_PLLCFGR REG(RCC_BASE + 0x04)
#define RCC_CFGR REG(RCC_BASE + 0x08)
#define RCC_GPIOENR REG(RCC_BASE + 0x30)   /* AHB1ENR: GPIOx clock = bit x */
#define RCC_APB1ENR REG(RCC_BASE + 0x40)
#define RCC_APB2ENR REG(RCC_BASE + 0x44)
#define GPIOEN_BIT(port) (port)
#define CFGR_PPRE1_SHIFT 10
#define CFGR_PPRE2_SHIFT 13
#define FLASH_ACR REG(0x40023C00u)
#define FLASH_ACR_SPEEDUP ((1u << 8) | (1u << 9) | (1u << 10))   /* prefetch, instruction and data caches */
#define GPIO_BASE(port) (0x40020000u + 0x400u * (port))
#elif TS_STM32_FAMILY == 1
#define RCC_BASE 0x40021000u
#define RCC_CR REG(RCC_BASE + 0x00)
#define RCC_CFGR REG(RCC_BASE + 0x04)
#define RCC_APB2ENR REG(RCC_BASE + 0x18)
#define RCC_APB1ENR REG(RCC_BASE + 0x1C)
#define RCC_GPIOENR RCC_APB2ENR            /* IOPx clock = bit 2 + x */
#define GPIOEN_BIT(port) (2 + (port))
#define CFGR_PPRE1_SHIFT 8
#define CFGR_PPRE2_SHIFT 11
#define CFGR_PLLSRC_HSE (1u << 16)
#define CFGR_PLLMUL_SHIFT 18
#define FLASH_ACR REG(0x40022000u)
#define FLASH_ACR_SPEEDUP (1u << 4)        /* prefetch buffer */
#define GPIO_BASE(port) (0x40010800u + 0x400u * (port))
#else
#error "TS_STM32_FAMILY must be 1 or 4"
#endif

#define WAIT_LOOPS 200000u   /* about 0.1 s at the HSI clock; crystal and PLL start in a few ms */

static uint32_t core_hz = TS_HSI_HZ;

/** Wait until (reg & mask) == value, at most WAIT_LOOPS reads; 0 if it never did. */
static int wait_for(volatile uint32_t *reg, uint32_t mask, uint32_t value)
{
    for (uint32_t i = 0; i < WAIT_LOOPS; i++) {
        if ((*reg & mask) == value) {
            return 1;
        }
    }
    return 0;
}

/** PPRE field value of an APB divider (1, 2, 4, 8, 16). */
static uint32_t ppre(uint32_t div)
{
    uint32_t log2 = 0;
    while (div > 1) {
        div >>= 1;
        log2++;
    }
    return log2 ? log2 + 3 : 0;
}

/** PLL source and factors; CFGR bits the family keeps there (F1), else 0. */
static uint32_t pll_setup(void)
{
#if TS_STM32_FAMILY == 4
    RCC_PLLCFGR = TS_PLL_M | TS_PLL_N << 6 | (TS_PLL_P / 2 - 1) << 16 | 1u << 22 /* HSE */ | TS_PLL_Q << 24;
    return 0;
#else
    uint32_t pll = CFGR_PLLSRC_HSE | (TS_PLL_MUL - 2u) << CFGR_PLLMUL_SHIFT;
    RCC_CFGR = pll;
    return pll;
#endif
}

/** HSE -> PLL -> core at TS_CORE_HZ; stays on HSI (and says so by the return) if any step times out. */
static uint32_t clock_init(void)
{
    RCC_CR |= CR_HSEON;
    if (!wait_for(&RCC_CR, CR_HSERDY, CR_HSERDY)) {
        RCC_CR &= ~CR_HSEON;
        return TS_HSI_HZ;
    }
    uint32_t cfgr = pll_setup();
    RCC_CR |= CR_PLLON;
    if (!wait_for(&RCC_CR, CR_PLLRDY, CR_PLLRDY)) {
        RCC_CR &= ~(CR_PLLON | CR_HSEON);
        return TS_HSI_HZ;
    }
    FLASH_ACR = TS_FLASH_LATENCY | FLASH_ACR_SPEEDUP;   /* wait states before the clock rises */
    cfgr |= ppre(TS_APB1_DIV) << CFGR_PPRE1_SHIFT | ppre(TS_APB2_DIV) << CFGR_PPRE2_SHIFT;
    RCC_CFGR = cfgr;
    RCC_CFGR = cfgr | CFGR_SW_PLL;
    if (!wait_for(&RCC_CFGR, CFGR_SWS_MASK, CFGR_SWS_PLL)) {
        RCC_CFGR = 0;   /* the reset value: HSI, buses undivided */
        return TS_HSI_HZ;
    }
    return TS_CORE_HZ;
}

static void pin_alternate(uint32_t port, uint32_t pin, int output)
{
    RCC_GPIOENR |= 1u << GPIOEN_BIT(port);
    uint32_t gpio = GPIO_BASE(port);
#if TS_STM32_FAMILY == 4
    REG(gpio + 0x00) = (REG(gpio + 0x00) & ~(3u << 2 * pin)) | 2u << 2 * pin;   /* MODER: alternate */
    volatile uint32_t *afr = &REG(gpio + 0x20 + 4 * (pin / 8));
    *afr = (*afr & ~(15u << 4 * (pin % 8))) | (uint32_t)TS_UART_AF << 4 * (pin % 8);
    if (!output) {
        REG(gpio + 0x0C) = (REG(gpio + 0x0C) & ~(3u << 2 * pin)) | 1u << 2 * pin;   /* PUPDR: pull-up */
    }
#else
    /* CRL/CRH, four bits a pin: output alternate push-pull 50 MHz (0xB), or input floating (0x4) */
    volatile uint32_t *cr = &REG(gpio + 4 * (pin / 8));
    *cr = (*cr & ~(15u << 4 * (pin % 8))) | (output ? 0xBu : 0x4u) << 4 * (pin % 8);
#endif
}

void board_init(void)
{
    core_hz = clock_init();
    uint32_t uart_hz = core_hz == TS_CORE_HZ ? TS_CORE_HZ / TS_UART_APB_DIV : TS_HSI_HZ;
#if TS_UART_APB == 1
    RCC_APB1ENR |= 1u << TS_UART_ENABLE_BIT;
#else
    RCC_APB2ENR |= 1u << TS_UART_ENABLE_BIT;
#endif
    pin_alternate(TS_UART_TX_PORT, TS_UART_TX_PIN, 1);
    pin_alternate(TS_UART_RX_PORT, TS_UART_RX_PIN, 0);
    USART_BRR = (uart_hz + TS_BAUD / 2) / TS_BAUD;   /* 16x oversampling: BRR = f / baud */
    USART_CR1 = CR1_UE | CR1_TE | CR1_RE;
}

uint32_t board_core_hz(void) { return core_hz; }

int board_try_getc(void) { return USART_SR & SR_RXNE ? (int)(USART_DR & 0xFF) : -1; }

int board_try_putc(char c)
{
    if (!(USART_SR & SR_TXE)) {
        return 0;
    }
    USART_DR = (uint8_t)c;
    return 1;
}
