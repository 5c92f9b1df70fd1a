export { deleteBrokerTopology } from '@pay/messaging';
