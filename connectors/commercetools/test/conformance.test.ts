import { runConformance } from '@sluice/testing';
import { conformanceOptions } from './conformance-options';

runConformance(conformanceOptions);
