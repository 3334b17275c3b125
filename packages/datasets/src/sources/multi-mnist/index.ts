/**
 * MultiMNIST: two overlapping real MNIST digits, tasks `left` and `right`.
 *
 * @module
 */
export { multiMnistDataset, planMultiMnist } from './multi-mnist.js';
export type {
  DigitRef,
  MultiMnistInstance,
  MultiMnistOptions,
  MultiMnistPlan,
} from './multi-mnist.js';
