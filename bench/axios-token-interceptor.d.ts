// axios-token-interceptor 0.2 ships no types: the part the benchmark uses.
declare module 'axios-token-interceptor' {
  import type { InternalAxiosRequestConfig } from 'axios';

  interface TokenCache<T> {
    (): Promise<T>;
    reset(): void;
  }
  interface InterceptorOptions<T> {
    token?: T;
    getToken?: () => T | Promise<T>;
    header?: string;
    headerFormatter?: (token: T) => string;
  }
  interface TokenInterceptor {
    <T>(options: InterceptorOptions<T>): (config: InternalAxiosRequestConfig) => Promise<InternalAxiosRequestConfig>;
    tokenCache<T>(
      getToken: () => Promise<T>,
      options: { maxAge?: number; getMaxAge?: (token: T) => number },
    ): TokenCache<T>;
  }
  const tokenInterceptor: TokenInterceptor;
  export default tokenInterceptor;
}
