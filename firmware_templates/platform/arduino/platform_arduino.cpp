// Arduino-framework platform (PlatformIO boards): Serial for the protocol, DWT CYCCNT where the
// core has it (extended to 64 bits on every read), else micros().
#include <Arduino.h>

#include "app.h"
#include "platform.h"
#include "tinyship_config.h"

#if TS_USE_DWT
#define DEMCR (*(volatile uint32_t *)0xE000EDFCu)
#define DWT_CTRL (*(volatile uint32_t *)0xE0001000u)
#define DWT_CYCCNT (*(volatile uint32_t *)0xE0001004u)
#endif

extern "C" {

int plat_getc(void) {
  while (Serial.available() <= 0) {
  }
  return Serial.read();
}

void plat_write(const char *s, size_t n) { Serial.write(reinterpret_cast<const uint8_t *>(s), n); }

uint64_t plat_cycles(void) {
#if TS_USE_DWT
  static uint32_t last;
  static uint64_t high;
  uint32_t now = DWT_CYCCNT;
  if (now < last) {
    high += 1ull << 32;
  }
  last = now;
  return high | now;
#else
  return static_cast<uint64_t>(micros()) * (TS_CPU_HZ / 1000000u);
#endif
}

uint64_t plat_cycle_hz(void) { return TS_CPU_HZ; }
const char *plat_timer(void) { return TS_USE_DWT ? "dwt" : "systick"; }
int plat_emulated(void) { return 0; }
size_t plat_stack_size(void) { return 0; }
size_t plat_stack_used(void) { return 0; }

}  // extern "C"

void setup() {
#if TS_USE_DWT
  DEMCR |= 1u << 24;   // TRCENA
  DWT_CYCCNT = 0;
  DWT_CTRL |= 1u;      // CYCCNTENA
#endif
  Serial.begin(TS_BAUD);
  while (!Serial) {
  }
  app_boot();
}

void loop() {
  while (Serial.available() > 0) {
    app_feed(Serial.read());
  }
}
