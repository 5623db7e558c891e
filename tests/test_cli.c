#include "testutil.h"
static void todo(void **s) { (void)s; fail_msg("not written yet"); }
int main(void) { const struct CMUnitTest t[] = { cmocka_unit_test(todo) }; return cmocka_run_group_tests(t, NULL, NULL); }
