/*
 * medcrm.h — declarations shared between the C files of the medcrm extension.
 */
#ifndef MEDCRM_H
#define MEDCRM_H

#endif							/* MEDCRM_H */
