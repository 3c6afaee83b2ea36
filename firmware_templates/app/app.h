/* The profiling shell: speaks the device protocol of docs/protocol.md over the platform's serial port. */
#ifndef TINYSHIP_APP_H
#define TINYSHIP_APP_H

#ifdef __cplusplus
extern "C" {
#endif

/** Reset the protocol state, initialize the engine and print the boot banner. */
void app_boot(void);
/** Feed one byte received on the serial port. */
void app_feed(int c);
/** app_boot(), then feed bytes from plat_getc() until the port closes. */
int app_main(void);

#ifdef __cplusplus
}
#endif

#endif
